import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorName, describeError, LifecycleActionEndedError } from './errors.ts';
import type { LifecycleAction } from './lifecycle-event.ts';
import type { Logger } from './observability.ts';
import { type Clock, systemClock } from './retry.ts';

export {
  acceptLifecycleEvent,
  isEnteringGroup,
  isLeavingGroup,
  isRejected,
  type LifecycleAction,
  parseLifecycleEvent,
  type RejectedEvent,
} from './lifecycle-event.ts';

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** AWS's answer when the action was already completed, abandoned or timed out. */
export function isNoActiveLifecycleAction(error: unknown): boolean {
  return (
    awsErrorName(error) === 'ValidationError' &&
    /No active Lifecycle Action found/i.test(String((error as Error).message))
  );
}

/** The lifecycle action ended under this invocation (defined with the other errors). */
export { LifecycleActionEndedError };

/** Metric (Count) a hook handler emits when the action ended under it (see LifecycleActionEndedError). */
export const LIFECYCLE_ACTION_ENDED_METRIC = 'LifecycleActionEnded';

export type CompletionOutcome = 'completed' | 'already-completed';

/** The ids every lifecycle action call names. */
function actionIds(action: LifecycleAction) {
  return {
    AutoScalingGroupName: action.groupName,
    LifecycleHookName: action.hookName,
    LifecycleActionToken: action.token,
    InstanceId: action.instanceId,
  };
}

/** CompleteLifecycleAction; "No active Lifecycle Action found" (e.g. on redelivery) is `already-completed`. */
export async function completeLifecycleAction(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  result: LifecycleResult,
  logger?: Pick<Logger, 'info' | 'warn'>,
): Promise<CompletionOutcome> {
  try {
    await autoscaling.send(
      new CompleteLifecycleActionCommand({ ...actionIds(action), LifecycleActionResult: result }),
    );
    logger?.info('Completed lifecycle action', { instanceId: action.instanceId, result });
    return 'completed';
  } catch (error) {
    if (isNoActiveLifecycleAction(error)) {
      // Not proof of success: the hook may have timed out or the action been abandoned (ADR 0040).
      logger?.warn('No active lifecycle action (completed elsewhere, abandoned, or the hook timed out)', {
        instanceId: action.instanceId,
        result,
      });
      return 'already-completed';
    }
    throw error;
  }
}

/** Record one lifecycle heartbeat (restarts the hook's timer); AWS errors are thrown as they come. */
export async function recordLifecycleHeartbeat(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
): Promise<void> {
  await autoscaling.send(new RecordLifecycleActionHeartbeatCommand(actionIds(action)));
}

interface HeartbeatOptions {
  /** How often to record a heartbeat. Keep it well under the hook's heartbeat timeout. */
  intervalMs: number;
  clock?: Clock;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/**
 * Heartbeats paced by the work's own waits (retry backoff, polls): no timer races the work, and a
 * beat is recorded only when `intervalMs` has passed since the last one.
 */
export class HeartbeatKeeper {
  /** Heartbeats recorded so far. */
  beats = 0;
  /** True once a heartbeat found the action over: the work should stop. */
  ended = false;
  private endedBy: unknown;
  private lastBeat: number;
  private readonly clock: Clock;

  constructor(
    private readonly autoscaling: AutoScalingClient,
    private readonly action: LifecycleAction,
    private readonly options: HeartbeatOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.lastBeat = this.clock.now();
  }

  /** Beat if due; failures are logged, never thrown, until the action is over: then LifecycleActionEndedError. */
  async beatIfDue(): Promise<void> {
    if (!this.ended && this.clock.now() - this.lastBeat >= this.options.intervalMs) await this.beat();
    if (this.ended) throw new LifecycleActionEndedError(this.action, { cause: this.endedBy });
  }

  private async beat(): Promise<void> {
    const { instanceId } = this.action;
    this.lastBeat = this.clock.now();
    try {
      await recordLifecycleHeartbeat(this.autoscaling, this.action);
      this.beats++;
      this.options.logger?.debug('Recorded lifecycle heartbeat', { instanceId, beats: this.beats });
    } catch (error) {
      this.options.logger?.warn('Lifecycle heartbeat failed', { instanceId, error: describeError(error) });
      if (isNoActiveLifecycleAction(error)) {
        this.ended = true;
        this.endedBy = error;
      }
    }
  }
}
