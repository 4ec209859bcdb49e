import { loadReaperConfig } from './config.ts';
import { createReaperHandler } from './create-reaper-handler.ts';
import { lambdaRuntime } from './runtime.ts';

const { deps, config } = lambdaRuntime(loadReaperConfig, 'endpoint-lease-reaper');

export const handler = createReaperHandler(deps, config);
