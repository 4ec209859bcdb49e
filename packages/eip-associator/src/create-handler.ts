import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  acceptLifecycleEvent,
  completeLifecycleAction,
  isEnteringGroup,
  isRejected,
  LIFECYCLE_ACTION_ENDED_METRIC,
  type RejectedEvent,
} from '@netkit/aws-core/lifecycle';
import { type Metrics, MetricUnit, recordPoolGauge } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { type Clock, Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import {
  associateOnLaunch,
  type LaunchOutcome,
  type PoolStats,
  releaseOnTerminate,
  type TerminateOutcome,
} from './associate.ts';
import type { Config } from './config.ts';

export interface HandlerDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock: Clock;
  metrics: Pick<Metrics, 'addMetric' | 'addDimension' | 'publishStoredMetrics'>;
  random?: () => number;
}

/** A launch into a warm pool: completed CONTINUE without an EIP. */
export interface SkippedOutcome {
  status: 'skipped';
  instanceId: string;
  reason: string;
}

/** Every result speaks the shared vocabulary (`HandlerOutcome`); the package's facts are the other fields. */
export type HandlerResult = (LaunchOutcome | TerminateOutcome | SkippedOutcome | RejectedEvent) &
  HandlerOutcome;

/** Time kept after the association deadline for the final CompleteLifecycleAction. */
const COMPLETE_MARGIN_MS = 1_000;

/**
 * The Lambda function for "EC2 Instance-launch Lifecycle Action" and
 * "EC2 Instance-terminate Lifecycle Action" events.
 */
export function createHandler(deps: HandlerDeps, config: Config) {
  const { clock } = deps;

  const { scope } = config;
  return async (event: unknown, context: LambdaContextLike): Promise<HandlerResult> => {
    const action = acceptLifecycleEvent(event, deps.logger, scope);
    if (isRejected(action)) return action;
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, clock, config.associateTimeoutMs);
    const completeDeadline = Deadline.fromContext(context, COMPLETE_MARGIN_MS, clock);
    const gauge = (pool: PoolStats) => {
      if (!deps.metrics) return;
      deps.metrics.addDimension('AutoScalingGroupName', action.groupName);
      recordPoolGauge(deps.metrics, pool);
    };
    try {
      if (action.kind === 'terminate') {
        const outcome = await releaseOnTerminate(action, deps, {
          poolTags: config.poolTags,
          deadline,
          completeDeadline,
        });
        gauge(outcome.pool);
        return outcome;
      }
      if (!isEnteringGroup(action)) {
        deps.logger.info('Instance is launching into the warm pool; no EIP until it enters the group', {
          instanceId: action.instanceId,
          groupName: action.groupName,
          destination: action.destination,
        });
        await completeLifecycleAction(deps.autoscaling, action, 'CONTINUE', deps.logger);
        return { status: 'skipped', instanceId: action.instanceId, reason: 'launching into the warm pool' };
      }
      const outcome = await associateOnLaunch(action, deps, {
        poolTags: config.poolTags,
        deadline,
        completeDeadline,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
      });
      gauge(outcome.pool);
      // The template's LaunchesAbandonedAlarm watches this (same dimensions as the pool gauge).
      if (outcome.status === 'abandoned') deps.metrics.addMetric('LaunchesAbandoned', MetricUnit.Count, 1);
      if (outcome.completion === 'already-completed') {
        // The action was over before this invocation finished it: hook timeout or another delivery.
        deps.metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
      }
      return outcome;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
