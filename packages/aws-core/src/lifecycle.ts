import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorName, describeError, isTransientError, LifecycleActionEndedError } from './errors.ts';
import type { LifecycleAction } from './lifecycle-event.ts';
import type { Logger } from './observability.ts';
import { type Clock, type Deadline, retry, systemClock } from './retry.ts';

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

interface ConfirmOptions {
  deadline: Deadline;
  clock?: Clock;
  random?: () => number;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/**
 * Before the first mutation of a launch: one heartbeat tells whether the action is still live (and
 * restarts the hook's timer). Transient errors are retried within `deadline`; others are thrown.
 */
export async function confirmLifecycleActionLive(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  options: ConfirmOptions,
): Promise<'live' | 'inactive'> {
  try {
    await retry(() => recordLifecycleHeartbeat(autoscaling, action), {
      retryable: isTransientError,
      deadline: options.deadline,
      clock: options.clock,
      random: options.random,
      onRetry: (error, attempt, delayMs) =>
        options.logger?.debug('Retrying lifecycle heartbeat', {
          error: describeError(error),
          attempt,
          delayMs,
        }),
    });
    return 'live';
  } catch (error) {
    if (!isNoActiveLifecycleAction(error)) throw error;
    options.logger?.warn(
      'Lifecycle action is not active (completed, abandoned, timed out, or not this instance); no change made',
      { instanceId: action.instanceId, groupName: action.groupName, hookName: action.hookName },
    );
    return 'inactive';
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
  /** `timer` (default): a loop beats every `intervalMs`. `waits`: only `beatIfDue()` in the work's waits beats. */
  pace?: 'timer' | 'waits';
}

export interface HeartbeatKeeper {
  /** Heartbeats recorded so far. */
  readonly beats: number;
  /** True once a heartbeat found the action over; the keeper has stopped and the work should too. */
  readonly ended: boolean;
  /** Beat if `intervalMs` has passed; throws LifecycleActionEndedError once the action is over. */
  beatIfDue(): Promise<void>;
  /** Stop and wait for an in-flight heartbeat. */
  stop(): Promise<void>;
}

/** Keep the hook from timing out while long work runs; failures are logged, never thrown into the work. */
export function startHeartbeat(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  options: HeartbeatOptions,
): HeartbeatKeeper {
  return new Heartbeat(autoscaling, action, options);
}

class Heartbeat implements HeartbeatKeeper {
  beats = 0;
  ended = false;
  private stopped = false;
  private endedBy: unknown;
  private lastBeat: number;
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private readonly loop: Promise<void>;

  constructor(
    private readonly autoscaling: AutoScalingClient,
    private readonly action: LifecycleAction,
    private readonly options: HeartbeatOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.lastBeat = this.clock.now();
    this.loop = options.pace === 'waits' ? Promise.resolve() : this.beatOnTimer();
  }

  private async beatOnTimer(): Promise<void> {
    while (!this.stopped) {
      await this.clock.sleep(this.options.intervalMs, this.abort.signal);
      if (this.stopped) break;
      await this.beat();
    }
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
        this.stopped = true;
      }
    }
  }

  async beatIfDue(): Promise<void> {
    const due = this.clock.now() - this.lastBeat >= this.options.intervalMs;
    if (!this.ended && !this.stopped && due) await this.beat();
    if (this.ended) throw new LifecycleActionEndedError(this.action, { cause: this.endedBy });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }
}
