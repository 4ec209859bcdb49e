import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  createLifecycleHandler,
  type HookDeps,
  type HookResult,
  hookDeadlines,
} from '@netkit/aws-core/lifecycle-hook';
import { associateOnLaunch, type LaunchOutcome } from './associate-on-launch.ts';
import type { Config } from './config.ts';
import { releaseOnTerminate, type TerminateOutcome } from './release-on-terminate.ts';

export type HandlerDeps = HookDeps & { ec2: EC2Client };

export type HandlerResult = HookResult<LaunchOutcome | TerminateOutcome>;

/** The Lambda function for the group's launch (associate) and terminate (release) lifecycle actions. */
export function createHandler(deps: HandlerDeps, config: Config) {
  const { ec2 } = deps;
  const { poolTags, deadlineMarginMs, associateTimeoutMs } = config;
  return createLifecycleHandler<LaunchOutcome | TerminateOutcome>(deps, {
    scope: config.scope,
    deadlines: (context, clock) => hookDeadlines(context, clock, deadlineMarginMs, associateTimeoutMs),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    warmPool: 'skip',
    launch: (run) => associateOnLaunch(run, ec2, poolTags),
    terminate: (run) => releaseOnTerminate(run, ec2, poolTags),
  });
}
