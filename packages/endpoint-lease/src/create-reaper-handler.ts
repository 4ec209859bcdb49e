import { describeError } from '@netkit/aws-core/errors';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { type ReapResult, reap } from './reap.ts';

/**
 * What the reaper function is built from: the same clients, clock, logger and metrics as acquire's
 * (metrics: the DELETE_FAILED count; the entry passes the package's `createMetrics`).
 */
export type ReaperHandlerDeps = AcquireHandlerDeps;

/**
 * The reaper reads only the current state, so any event (schedule, ECS task state change,
 * manual invoke) triggers the same idempotent check.
 */
export function createReaperHandler(deps: ReaperHandlerDeps, config: Config) {
  return async (_event: unknown, context: LambdaContextLike): Promise<ReapResult> => {
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
    try {
      return await reap(deps, config, deadline, context.awsRequestId ?? `reaper-${deps.clock.now()}`);
    } catch (error) {
      deps.logger.error('Reaper failed', { error: describeError(error) });
      throw error;
    }
  };
}
