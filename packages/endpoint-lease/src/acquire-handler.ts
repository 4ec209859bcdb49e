import { loadAcquireConfig } from './config.ts';
import { createAcquireHandler } from './create-acquire-handler.ts';
import { lambdaRuntime } from './runtime.ts';

const { deps, config } = lambdaRuntime(loadAcquireConfig, 'endpoint-lease-acquire');

export const handler = createAcquireHandler(deps, config);
