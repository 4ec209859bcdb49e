import type { EC2Client } from '@aws-sdk/client-ec2';
import { createLifecycleHandler, type HookDeps } from '@netkit/aws-core/lifecycle-hook';
import { type Clock, Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import { type EndedLaunch, handleLaunch, type LaunchReport } from './handle-launch.ts';
import type { SubnetCatalog } from './subnets.ts';
import { handleTerminate, type TerminateReport } from './terminate.ts';

export type HandlerDeps = HookDeps & { ec2: EC2Client; catalog: SubnetCatalog };

/** Work keeps min(8 s, a quarter) back for clean-up and completion; finish keeps the margin (<= 1/20). */
export function deadlinesFor(context: LambdaContextLike, clock: Clock, marginMs: number) {
  const remaining = context.getRemainingTimeInMillis();
  return {
    work: Deadline.fromContext(context, Math.min(8_000, Math.floor(remaining / 4)), clock),
    finish: Deadline.fromContext(context, Math.min(marginMs, Math.floor(remaining / 20)), clock),
  };
}

/** The launch (and optional terminate) lifecycle hook; a launch into the warm pool is attached too. */
export function createHandler(deps: HandlerDeps, config: Config) {
  return createLifecycleHandler<LaunchReport | EndedLaunch | TerminateReport>(deps, {
    scope: config.scope,
    deadlines: (context, clock) => deadlinesFor(context, clock, config.deadlineMarginMs),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    warmPool: 'run',
    launch: (run) => handleLaunch(run, deps.ec2, config, deps.catalog),
    terminate: (run) => handleTerminate(run, deps.ec2),
  });
}
