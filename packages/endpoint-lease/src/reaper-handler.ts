import { createReaperHandler } from './handlers.ts';
import { lambdaRuntime } from './runtime.ts';

const { deps, config } = lambdaRuntime('endpoint-lease-reaper');

export const handler = createReaperHandler(deps, config);
