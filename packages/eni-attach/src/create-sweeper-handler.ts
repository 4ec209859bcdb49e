import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { SweepConfig } from './config.ts';
import { type SweepDeps, type SweepReport, sweepOrphans } from './sweep.ts';

/** What the sweeper entry needs: an EC2 client, a logger and a clock. */
export interface SweeperHandlerDeps extends SweepDeps {
  clock: SweepDeps['clock'];
}

/** Scheduled sweeper (EventBridge schedule): the event's content is not used. */
export function createSweeperHandler(deps: SweeperHandlerDeps, config: SweepConfig) {
  return async (_event: unknown, context: LambdaContextLike): Promise<SweepReport> =>
    sweepOrphans(config, deps, Deadline.fromContext(context, 2_000, deps.clock));
}
