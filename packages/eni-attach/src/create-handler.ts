import {
  acceptLifecycleEvent,
  confirmLifecycleActionLive,
  LIFECYCLE_ACTION_ENDED_METRIC,
  type RejectedEvent,
} from '@netkit/aws-core/lifecycle';
import { MetricUnit } from '@netkit/aws-core/metrics';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import { type Config, DEADLINE_MARGIN_MS } from './config.ts';
import { type EndedLaunch, handleLaunch, type LaunchDeps, type LaunchReport } from './launch.ts';
import type { Deadlines } from './run.ts';
import { handleTerminate, type TerminateReport } from './terminate.ts';

export interface HandlerDeps extends LaunchDeps {
  /** Always passed: the entry gives systemClock, tests a manual clock. */
  clock: LaunchDeps['clock'];
  logger: LaunchDeps['logger'];
  /** Powertools Metrics (EMF); published once per invocation. */
  metrics: HandlerMetrics;
}

/** The part of Powertools Metrics the factories use. */
export interface HandlerMetrics {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
  publishStoredMetrics(): unknown;
}

/** A launch whose lifecycle action was no longer live (late redelivery, foreign token): nothing was changed. */
export interface InactiveLaunch {
  status: 'ended';
  instanceId: string;
  reason: string;
}

export type HandlerResult = LaunchReport | EndedLaunch | TerminateReport | RejectedEvent | InactiveLaunch;

/** Time kept back from the EC2 work for cleanup and CompleteLifecycleAction. */
export const FINISH_RESERVE_MS = 8_000;

export function deadlinesFor(
  context: LambdaContextLike,
  clock: LaunchDeps['clock'],
  deadlineMarginMs: number = DEADLINE_MARGIN_MS,
): Deadlines {
  const remaining = context.getRemainingTimeInMillis();
  const reserve = Math.min(FINISH_RESERVE_MS, Math.floor(remaining / 4));
  return {
    work: Deadline.fromContext(context, reserve, clock),
    finish: Deadline.fromContext(context, Math.min(deadlineMarginMs, Math.floor(remaining / 20)), clock),
  };
}

/**
 * The Lambda function for the launch (and optional terminate) lifecycle hook,
 * from EventBridge "EC2 Instance-launch/terminate Lifecycle Action" events.
 */
export function createHandler(deps: HandlerDeps, config: Config) {
  return async (event: unknown, context: LambdaContextLike): Promise<HandlerResult> => {
    const action = acceptLifecycleEvent(event, deps.logger, config.scope);
    if ('status' in action) return action;
    const deadlines = deadlinesFor(context, deps.clock, config.deadlineMarginMs);
    try {
      if (action.kind === 'terminate') return await handleTerminate(action, deps, deadlines);
      // Verify before mutating: no ENI is created for an action that is over or not this instance's.
      const live = await confirmLifecycleActionLive(deps.autoscaling, action, {
        deadline: deadlines.work,
        clock: deps.clock,
        logger: deps.logger,
        ...(deps.random ? { random: deps.random } : {}),
      });
      if (live === 'inactive') {
        deps.metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
        return {
          status: 'ended',
          instanceId: action.instanceId,
          reason:
            'the lifecycle action is not active (completed, abandoned or timed out); nothing was changed',
        };
      }
      const report = await handleLaunch(action, config, deps, deadlines);
      if (report.status === 'ended') {
        deps.metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
        return report;
      }
      if (report.completion === 'already-completed') {
        // Attached, but the action had ended before the completion (hook timeout or another delivery).
        deps.metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
      }
      deps.metrics.addMetric(
        report.result === 'CONTINUE' ? 'LaunchesContinued' : 'LaunchesAbandoned',
        MetricUnit.Count,
        1,
      );
      deps.metrics.addMetric(
        'InterfacesCreated',
        MetricUnit.Count,
        report.interfaces.filter((i) => i.source === 'created').length,
      );
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
