import { createAcquireHandler } from './handlers.ts';
import { lambdaRuntime } from './runtime.ts';

const { deps, config } = lambdaRuntime('endpoint-lease-acquire');

export const handler = createAcquireHandler(deps, config);
