import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  awsErrorName,
  describeError,
  echo,
  InvalidEventError,
  isTransientError,
  LifecycleActionEndedError,
} from './errors.ts';
import { GROUP_NAME, HOOK_NAME, type LifecycleScope } from './lifecycle-scope.ts';
import type { Logger } from './observability.ts';
import { type Clock, type Deadline, retry, systemClock } from './retry.ts';

const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

type LifecycleKind = 'launch' | 'terminate';
export type LifecycleResult = 'CONTINUE' | 'ABANDON';
/** Where an instance comes from or goes to with warm pools. */
type LifecyclePlace = 'EC2' | 'WarmPool' | 'AutoScalingGroup';

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

/** Lifecycle action tokens are UUIDs (36 characters, CompleteLifecycleAction API reference). */
const LIFECYCLE_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** NotificationMetadata: at most 1023 characters (PutLifecycleHook API reference). */
const NOTIFICATION_METADATA_MAX = 1023;
const EVENT_ID = /^[A-Za-z0-9-]{1,64}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Throws InvalidEventError unless the action belongs to the configured group (and hooks), ADR 0030. */
function checkLifecycleScope(action: LifecycleAction, scope: LifecycleScope): void {
  if (action.groupName !== scope.groupName) {
    throw new InvalidEventError(
      `Lifecycle event is for Auto Scaling group ${echo(action.groupName)}, not the configured AUTO_SCALING_GROUP_NAME ${echo(scope.groupName)}`,
      'detail.AutoScalingGroupName',
    );
  }
  if (scope.hookNames !== undefined && !scope.hookNames.includes(action.hookName)) {
    throw new InvalidEventError(
      `Lifecycle event is for hook ${echo(action.hookName)}, not one of the configured LIFECYCLE_HOOK_NAMES ${echo(scope.hookNames.join(','))}`,
      'detail.LifecycleHookName',
    );
  }
}

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
      `Lifecycle event detail.${field} must be a string, got ${Array.isArray(value) ? 'array' : typeof value}`,
      `detail.${field}`,
    );
  }
  return value;
}

function checked(field: string, value: string, pattern: RegExp, expected: string): string {
  if (!pattern.test(value)) {
    throw new InvalidEventError(`detail.${field} ${echo(value)} is not ${expected}`, `detail.${field}`);
  }
  return value;
}

/** An optional envelope field: absent is fine, present must be a well-formed string. */
function envelopeField(e: Record<string, unknown>, field: string, pattern: RegExp, expected: string) {
  const value = e[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidEventError(`Lifecycle event ${field} ${echo(value)} is not ${expected}`, field);
  }
  return value;
}

/** Parse and validate an EventBridge lifecycle action event; InvalidEventError names the bad field. */
export function parseLifecycleEvent(
  event: unknown,
  accept: readonly LifecycleKind[] = ['launch', 'terminate'],
): LifecycleAction {
  const { envelope, kind, detail } = parseEnvelope(event, accept);
  const action = requiredDetail(detail, kind);
  for (const [k, v] of Object.entries(optionalDetail(envelope, detail)))
    if (v !== undefined) (action as unknown as Record<string, unknown>)[k] = v;
  return action;
}

/** The event's source, detail-type (one of `accept`) and detail object. */
function parseEnvelope(
  event: unknown,
  accept: readonly LifecycleKind[],
): { envelope: Record<string, unknown>; kind: LifecycleKind; detail: Record<string, unknown> } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('Lifecycle event must be a JSON object');
  }
  const e = event as Record<string, unknown>;
  if (e.source !== 'aws.autoscaling') {
    throw new InvalidEventError(
      `Unexpected event source ${echo(e.source)}; expected "aws.autoscaling"`,
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
      `Unexpected detail-type ${echo(detailType)}; expected ${expected}`,
      'detail-type',
    );
  }
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    throw new InvalidEventError('Lifecycle event has no detail object', 'detail');
  }
  return { envelope: e, kind, detail: detail as Record<string, unknown> };
}

/** The detail fields every lifecycle action has: instance, transition, group, hook and token. */
function requiredDetail(d: Record<string, unknown>, kind: LifecycleKind): LifecycleAction {
  const instanceId = str(d, 'EC2InstanceId', true);
  if (!INSTANCE_ID.test(instanceId)) {
    throw new InvalidEventError(
      `detail.EC2InstanceId ${echo(instanceId)} is not an instance id (i- and 8 to 17 hex digits)`,
      'detail.EC2InstanceId',
    );
  }
  const transition = str(d, 'LifecycleTransition', true);
  const expectedTransition = kind === 'launch' ? LAUNCHING : TERMINATING;
  if (transition !== expectedTransition) {
    throw new InvalidEventError(
      `detail.LifecycleTransition ${echo(transition)} does not match detail-type; expected ${expectedTransition}`,
      'detail.LifecycleTransition',
    );
  }
  return {
    kind,
    instanceId,
    groupName: checked(
      'AutoScalingGroupName',
      str(d, 'AutoScalingGroupName', true),
      GROUP_NAME,
      'an Auto Scaling group name (1-255 characters, no control characters)',
    ),
    hookName: checked(
      'LifecycleHookName',
      str(d, 'LifecycleHookName', true),
      HOOK_NAME,
      'a lifecycle hook name (1-255 characters of A-Z a-z 0-9 - _ /)',
    ),
    token: checked(
      'LifecycleActionToken',
      str(d, 'LifecycleActionToken', true),
      LIFECYCLE_TOKEN,
      'a lifecycle action token (a UUID)',
    ),
    transition: expectedTransition,
  };
}

/** The optional fields: notification metadata, warm pool origin and destination, the envelope's ids. */
function optionalDetail(e: Record<string, unknown>, d: Record<string, unknown>) {
  const metadata = str(d, 'NotificationMetadata', false);
  if (metadata !== undefined && metadata.length > NOTIFICATION_METADATA_MAX) {
    throw new InvalidEventError(
      `detail.NotificationMetadata is ${metadata.length} characters; at most ${NOTIFICATION_METADATA_MAX}`,
      'detail.NotificationMetadata',
    );
  }
  return {
    origin: place(d, 'Origin'),
    destination: place(d, 'Destination'),
    notificationMetadata: metadata,
    eventId: envelopeField(e, 'id', EVENT_ID, 'an event id'),
    region: envelopeField(e, 'region', REGION, 'a region name'),
    account: envelopeField(e, 'account', ACCOUNT, 'a 12-digit account id'),
    time: envelopeField(e, 'time', EVENT_TIME, 'an RFC 3339 time'),
  };
}

/** detail.Origin / detail.Destination: absent, or one of the documented places. */
function place(d: Record<string, unknown>, field: 'Origin' | 'Destination'): LifecyclePlace | undefined {
  const value = str(d, field, false);
  if (value !== undefined && !PLACES.includes(value)) {
    throw new InvalidEventError(
      `detail.${field} ${echo(value)} is not one of ${PLACES.join(', ')}`,
      `detail.${field}`,
    );
  }
  return value as LifecyclePlace | undefined;
}

/** A launch into service, not into a warm pool (events without `Destination` predate warm pools). */
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

/** The lifecycle action ended under this invocation (defined with the other errors). */
export { LifecycleActionEndedError };

/** Metric (Count) a hook handler emits when the action ended under it (see LifecycleActionEndedError). */
export const LIFECYCLE_ACTION_ENDED_METRIC = 'LifecycleActionEnded';

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
      // Not proof of success: the hook may have timed out or the action been abandoned (ADR 0040).
      logger?.warn(
        'No active lifecycle action (completed elsewhere, abandoned, or the hook timed out); nothing to complete',
        {
          instanceId: action.instanceId,
          result,
        },
      );
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
  await autoscaling.send(
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: action.groupName,
      LifecycleHookName: action.hookName,
      LifecycleActionToken: action.token,
      InstanceId: action.instanceId,
    }),
  );
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
  const clock = options.clock ?? systemClock;
  const abort = new AbortController();
  let stopped = false;
  let ended = false;
  let endedBy: unknown;
  let beats = 0;
  let lastBeat = clock.now();
  const beat = async () => {
    lastBeat = clock.now();
    try {
      await recordLifecycleHeartbeat(autoscaling, action);
      beats++;
      options.logger?.debug('Recorded lifecycle heartbeat', { instanceId: action.instanceId, beats });
    } catch (error) {
      options.logger?.warn('Lifecycle heartbeat failed', {
        instanceId: action.instanceId,
        error: describeError(error),
      });
      if (isNoActiveLifecycleAction(error)) {
        ended = true;
        endedBy = error;
        stopped = true;
      }
    }
  };
  const loop =
    options.pace === 'waits'
      ? Promise.resolve()
      : (async () => {
          while (!stopped) {
            await clock.sleep(options.intervalMs, abort.signal);
            if (stopped) break;
            await beat();
          }
        })();
  return {
    get beats() {
      return beats;
    },
    get ended() {
      return ended;
    },
    async beatIfDue() {
      if (!ended && !stopped && clock.now() - lastBeat >= options.intervalMs) await beat();
      if (ended) throw new LifecycleActionEndedError(action, { cause: endedBy });
    },
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
    },
  };
}

/** What a handler returns for an event that can never succeed: logged, not retried. */
export interface RejectedEvent {
  status: 'rejected';
  reason: string;
}

/** Parse a lifecycle event; an invalid one is logged and returned as `RejectedEvent`, never retried (ADR 0004). */
export function acceptLifecycleEvent(
  event: unknown,
  logger: Pick<Logger, 'error'>,
  scope: LifecycleScope,
  accept: readonly LifecycleKind[] = ['launch', 'terminate'],
): LifecycleAction | RejectedEvent {
  try {
    const action = parseLifecycleEvent(event, accept);
    checkLifecycleScope(action, scope);
    return action;
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
