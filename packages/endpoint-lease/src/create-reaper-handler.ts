import { describeError } from '@netkit/aws-core/errors';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { reapIdleEndpoints } from './reap-idle-endpoints.ts';

export type ReaperHandlerDeps = AcquireHandlerDeps;

/** The reaper reads only the current state, so any event (schedule, task state change) runs the same check. */
export function createReaperHandler(deps: ReaperHandlerDeps, config: Config) {
  return async (_event: unknown, context: LambdaContextLike) => {
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
    const owner = context.awsRequestId ?? `reaper-${deps.clock.now()}`;
    try {
      return await reapIdleEndpoints(deps, config, deadline, owner);
    } catch (error) {
      deps.logger.error('Reaper failed', { error: describeError(error) });
      throw error;
    }
  };
}
