import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  createLifecycleHandler,
  type HookDeps,
  type HookResult,
  hookDeadlines,
} from '@netkit/aws-core/lifecycle-hook';
import { attachOnLaunch, type LaunchOutcome } from './attach-on-launch.ts';
import type { Config } from './config.ts';
import { releaseOnTerminate, type TerminateOutcome } from './release-on-terminate.ts';

type Outcome = LaunchOutcome | TerminateOutcome;
export type HandlerResult = HookResult<Outcome>;

export type HandlerDeps = HookDeps & { ec2: EC2Client };

/** The Lambda function for the group's launch (attach a pool ENI) and terminate (detach it) lifecycle actions. */
export function createHandler(deps: HandlerDeps, config: Config) {
  const { deadlineMarginMs, attachTimeoutMs } = config;
  return createLifecycleHandler<Outcome>(deps, {
    scope: config.scope,
    deadlines: (context, clock) => hookDeadlines(context, clock, deadlineMarginMs, attachTimeoutMs),
    heartbeatIntervalMs: 60_000, // beats in the verbs' waits (run.call), well inside the hook's HeartbeatTimeout
    warmPool: 'skip',
    launch: (run) => attachOnLaunch(run, deps, config),
    terminate: (run) => releaseOnTerminate(run, deps, config),
  });
}
