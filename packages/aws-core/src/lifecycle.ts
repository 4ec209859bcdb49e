import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorName, describeError, InvalidEventError } from './errors.ts';
import type { Logger } from './observability.ts';
import { type Clock, systemClock } from './retry.ts';

export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

export type LifecycleKind = 'launch' | 'terminate';
export type LifecycleResult = 'CONTINUE' | 'ABANDON';
/** Where an instance comes from or goes to with warm pools. */
export type LifecyclePlace = 'EC2' | 'WarmPool' | 'AutoScalingGroup';

/** A validated lifecycle action from an EventBridge event. */
export interface LifecycleAction {
  kind: LifecycleKind;
  instanceId: string;
  groupName: string;
  hookName: string;
  token: string;
  transition: typeof LAUNCHING | typeof TERMINATING;
  origin?: LifecyclePlace;
  destination?: LifecyclePlace;
  notificationMetadata?: string;
  eventId?: string;
  region?: string;
  account?: string;
  time?: string;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const PLACES: readonly string[] = ['EC2', 'WarmPool', 'AutoScalingGroup'];

function str(detail: Record<string, unknown>, field: string, required: true): string;
function str(detail: Record<string, unknown>, field: string, required: false): string | undefined;
function str(detail: Record<string, unknown>, field: string, required: boolean) {
  const value = detail[field];
  if (value === undefined || value === null || value === '') {
    if (required)
      throw new InvalidEventError(`Lifecycle event is missing detail.${field}`, `detail.${field}`);
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new InvalidEventError(
      `Lifecycle event detail.${field} must be a string, got ${typeof value}`,
      `detail.${field}`,
    );
  }
  return value;
}

/**
 * Parse and validate an EventBridge "EC2 Instance-launch/terminate Lifecycle
 * Action" event. Throws InvalidEventError naming the offending field.
 */
export function parseLifecycleEvent(
  event: unknown,
  accept: readonly LifecycleKind[] = ['launch', 'terminate'],
): LifecycleAction {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('Lifecycle event must be a JSON object');
  }
  const e = event as Record<string, unknown>;
  if (e.source !== 'aws.autoscaling') {
    throw new InvalidEventError(
      `Unexpected event source ${JSON.stringify(e.source)}; expected "aws.autoscaling"`,
      'source',
    );
  }
  const detailType = e['detail-type'];
  const kind: LifecycleKind | undefined =
    detailType === LAUNCH_DETAIL_TYPE
      ? 'launch'
      : detailType === TERMINATE_DETAIL_TYPE
        ? 'terminate'
        : undefined;
  if (kind === undefined || !accept.includes(kind)) {
    const expected = accept
      .map((k) => JSON.stringify(k === 'launch' ? LAUNCH_DETAIL_TYPE : TERMINATE_DETAIL_TYPE))
      .join(' or ');
    throw new InvalidEventError(
      `Unexpected detail-type ${JSON.stringify(detailType)}; expected ${expected}`,
      'detail-type',
    );
  }
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    throw new InvalidEventError('Lifecycle event has no detail object', 'detail');
  }
  const d = detail as Record<string, unknown>;
  const instanceId = str(d, 'EC2InstanceId', true);
  if (!INSTANCE_ID.test(instanceId)) {
    throw new InvalidEventError(
      `detail.EC2InstanceId ${JSON.stringify(instanceId)} is not an instance id`,
      'detail.EC2InstanceId',
    );
  }
  const transition = str(d, 'LifecycleTransition', true);
  const expectedTransition = kind === 'launch' ? LAUNCHING : TERMINATING;
  if (transition !== expectedTransition) {
    throw new InvalidEventError(
      `detail.LifecycleTransition ${JSON.stringify(transition)} does not match detail-type; expected ${expectedTransition}`,
      'detail.LifecycleTransition',
    );
  }
  const place = (field: 'Origin' | 'Destination') => {
    const value = str(d, field, false);
    if (value !== undefined && !PLACES.includes(value)) {
      throw new InvalidEventError(
        `detail.${field} ${JSON.stringify(value)} is not one of ${PLACES.join(', ')}`,
        `detail.${field}`,
      );
    }
    return value as LifecyclePlace | undefined;
  };
  const action: LifecycleAction = {
    kind,
    instanceId,
    groupName: str(d, 'AutoScalingGroupName', true),
    hookName: str(d, 'LifecycleHookName', true),
    token: str(d, 'LifecycleActionToken', true),
    transition: expectedTransition,
  };
  const optionalFields = {
    origin: place('Origin'),
    destination: place('Destination'),
    notificationMetadata: str(d, 'NotificationMetadata', false),
    eventId: typeof e.id === 'string' ? e.id : undefined,
    region: typeof e.region === 'string' ? e.region : undefined,
    account: typeof e.account === 'string' ? e.account : undefined,
    time: typeof e.time === 'string' ? e.time : undefined,
  };
  for (const [k, v] of Object.entries(optionalFields))
    if (v !== undefined) (action as unknown as Record<string, unknown>)[k] = v;
  return action;
}

/**
 * True when a launching instance is entering the group's service (not going
 * to a warm pool). Events without `Destination` predate warm pools: in service.
 */
export function isEnteringGroup(action: LifecycleAction): boolean {
  return (
    action.kind === 'launch' &&
    (action.destination === undefined || action.destination === 'AutoScalingGroup')
  );
}

/** True when a terminating instance leaves from service (not from, or into, a warm pool). */
export function isLeavingGroup(action: LifecycleAction): boolean {
  return action.kind === 'terminate' && action.origin !== 'WarmPool';
}

/** AWS's answer when the action was already completed, abandoned or timed out. */
export function isNoActiveLifecycleAction(error: unknown): boolean {
  return (
    awsErrorName(error) === 'ValidationError' &&
    /No active Lifecycle Action found/i.test(String((error as Error).message))
  );
}

export type CompletionOutcome = 'completed' | 'already-completed';

/**
 * CompleteLifecycleAction with the event's token. On redelivery AWS answers
 * "No active Lifecycle Action found": the action is done, so that is success.
 */
export async function completeLifecycleAction(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  result: LifecycleResult,
  logger?: Pick<Logger, 'info' | 'warn'>,
): Promise<CompletionOutcome> {
  try {
    await autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: action.groupName,
        LifecycleHookName: action.hookName,
        LifecycleActionToken: action.token,
        InstanceId: action.instanceId,
        LifecycleActionResult: result,
      }),
    );
    logger?.info('Completed lifecycle action', { instanceId: action.instanceId, result });
    return 'completed';
  } catch (error) {
    if (isNoActiveLifecycleAction(error)) {
      // Not proof of success: another delivery may have completed it, but the hook may also
      // have timed out (its DefaultResult applied) or the action been abandoned.
      logger?.warn(
        'No active lifecycle action: completed by another delivery, or abandoned, or the hook timed out (its DefaultResult applied); nothing to complete',
        { instanceId: action.instanceId, result },
      );
      return 'already-completed';
    }
    throw error;
  }
}

/**
 * Record one lifecycle heartbeat: restarts the hook's heartbeat timer. AWS errors are thrown as
 * they come ("No active Lifecycle Action found" when the action is over: `isNoActiveLifecycleAction`).
 */
export async function recordLifecycleHeartbeat(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
): Promise<void> {
  await autoscaling.send(
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: action.groupName,
      LifecycleHookName: action.hookName,
      LifecycleActionToken: action.token,
      InstanceId: action.instanceId,
    }),
  );
}

export interface HeartbeatOptions {
  /** How often to record a heartbeat. Keep it well under the hook's heartbeat timeout. */
  intervalMs: number;
  clock?: Clock;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

export interface HeartbeatKeeper {
  /** Heartbeats recorded so far. */
  readonly beats: number;
  /** Stop and wait for an in-flight heartbeat. */
  stop(): Promise<void>;
}

/**
 * Record a lifecycle heartbeat every `intervalMs` while long work runs, so the
 * hook does not time out. Failures are logged, never thrown into the work.
 */
export function startHeartbeat(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  options: HeartbeatOptions,
): HeartbeatKeeper {
  const clock = options.clock ?? systemClock;
  const abort = new AbortController();
  let stopped = false;
  let beats = 0;
  const loop = (async () => {
    while (!stopped) {
      await clock.sleep(options.intervalMs, abort.signal);
      if (stopped) break;
      try {
        await recordLifecycleHeartbeat(autoscaling, action);
        beats++;
        options.logger?.debug('Recorded lifecycle heartbeat', { instanceId: action.instanceId, beats });
      } catch (error) {
        options.logger?.warn('Lifecycle heartbeat failed', {
          instanceId: action.instanceId,
          error: describeError(error),
        });
        if (isNoActiveLifecycleAction(error)) stopped = true;
      }
    }
  })();
  return {
    get beats() {
      return beats;
    },
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
    },
  };
}

/** Run `work` with a heartbeat keeper around it. */
export async function withHeartbeat<T>(
  autoscaling: AutoScalingClient,
  action: LifecycleAction,
  options: HeartbeatOptions,
  work: () => Promise<T>,
): Promise<T> {
  const keeper = startHeartbeat(autoscaling, action, options);
  try {
    return await work();
  } finally {
    await keeper.stop();
  }
}

/** What a handler returns for an event that can never succeed: logged, not retried. */
export interface RejectedEvent {
  status: 'rejected';
  reason: string;
}

/**
 * Parse a lifecycle event for a handler. An invalid event is logged as one
 * clear error and returned as `RejectedEvent` (the handler returns it instead
 * of throwing, so Lambda does not retry an event that can never succeed).
 */
export function acceptLifecycleEvent(
  event: unknown,
  logger: Pick<Logger, 'error'>,
  accept: readonly LifecycleKind[] = ['launch', 'terminate'],
): LifecycleAction | RejectedEvent {
  try {
    return parseLifecycleEvent(event, accept);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    logger.error('Rejected lifecycle event; no AWS call was made', {
      reason: error.message,
      field: error.field,
    });
    return { status: 'rejected', reason: error.message };
  }
}

export function isRejected(value: unknown): value is RejectedEvent {
  return typeof value === 'object' && value !== null && (value as RejectedEvent).status === 'rejected';
}
