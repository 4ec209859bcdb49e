import { echo, InvalidEventError } from './errors.ts';
import { GROUP_NAME, HOOK_NAME, type LifecycleScope } from './lifecycle-scope.ts';
import type { Logger } from './observability.ts';

const DETAIL_TYPES = {
  launch: 'EC2 Instance-launch Lifecycle Action',
  terminate: 'EC2 Instance-terminate Lifecycle Action',
} as const;
const TRANSITIONS = {
  launch: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminate: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

type LifecycleKind = keyof typeof DETAIL_TYPES;
/** Where an instance comes from or goes to with warm pools. */
type LifecyclePlace = 'EC2' | 'WarmPool' | 'AutoScalingGroup';
type Fields = Record<string, unknown>;

/** A validated lifecycle action from an EventBridge event. */
export interface LifecycleAction {
  kind: LifecycleKind;
  instanceId: string;
  groupName: string;
  hookName: string;
  token: string;
  transition: (typeof TRANSITIONS)[LifecycleKind];
  origin?: LifecyclePlace;
  destination?: LifecyclePlace;
  notificationMetadata?: string;
  eventId?: string;
  region?: string;
  account?: string;
  time?: string;
}

type Rule = readonly [pattern: RegExp, expected: string];
const PLACE: Rule = [/^(?:EC2|WarmPool|AutoScalingGroup)$/, 'one of EC2, WarmPool, AutoScalingGroup'];
/** The detail fields with a known shape; tokens are UUIDs (CompleteLifecycleAction API reference). */
const DETAIL_FIELDS: Record<string, Rule> = {
  EC2InstanceId: [/^i-[0-9a-f]{8,17}$/, 'an instance id (i- and 8 to 17 hex digits)'],
  AutoScalingGroupName: [GROUP_NAME, 'an Auto Scaling group name (1-255 characters, no control characters)'],
  LifecycleHookName: [HOOK_NAME, 'a lifecycle hook name (1-255 characters of A-Z a-z 0-9 - _ /)'],
  LifecycleActionToken: [/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i, 'a lifecycle action token (a UUID)'],
  Origin: PLACE,
  Destination: PLACE,
};
/** The envelope fields, all optional. */
const ENVELOPE_FIELDS: Record<string, Rule> = {
  id: [/^[A-Za-z0-9-]{1,64}$/, 'an event id'],
  region: [/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'a region name'],
  account: [/^\d{12}$/, 'a 12-digit account id'],
  time: [/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, 'an RFC 3339 time'],
};
/** NotificationMetadata: at most 1023 characters (PutLifecycleHook API reference). */
const NOTIFICATION_METADATA_MAX = 1023;

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

/** detail.`field` as a string; undefined when absent and not `required`. */
function str(detail: Fields, field: string, required: boolean): string | undefined {
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

/** detail.`field` in its DETAIL_FIELDS shape; undefined when absent and not `required`. */
function checked(detail: Fields, field: string, required = true) {
  const [pattern, expected] = DETAIL_FIELDS[field] as Rule;
  const value = str(detail, field, required);
  if (value !== undefined && !pattern.test(value)) {
    throw new InvalidEventError(`detail.${field} ${echo(value)} is not ${expected}`, `detail.${field}`);
  }
  return value as string;
}

/** An optional envelope field: absent is fine, present must be a well-formed string. */
function envelopeField(envelope: Fields, field: string) {
  const [pattern, expected] = ENVELOPE_FIELDS[field] as Rule;
  const value = envelope[field];
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
    if (v !== undefined) (action as unknown as Fields)[k] = v;
  return action;
}

/** The event's source, detail-type (one of `accept`) and detail object. */
function parseEnvelope(event: unknown, accept: readonly LifecycleKind[]) {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('Lifecycle event must be a JSON object');
  }
  const envelope = event as Fields;
  if (envelope.source !== 'aws.autoscaling') {
    throw new InvalidEventError(
      `Unexpected event source ${echo(envelope.source)}; expected "aws.autoscaling"`,
      'source',
    );
  }
  const detailType = envelope['detail-type'];
  const kind = accept.find((k) => DETAIL_TYPES[k] === detailType);
  if (kind === undefined) {
    const expected = accept.map((k) => JSON.stringify(DETAIL_TYPES[k])).join(' or ');
    throw new InvalidEventError(
      `Unexpected detail-type ${echo(detailType)}; expected ${expected}`,
      'detail-type',
    );
  }
  const detail = envelope.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    throw new InvalidEventError('Lifecycle event has no detail object', 'detail');
  }
  return { envelope, kind, detail: detail as Fields };
}

/** The detail fields every lifecycle action has: instance, transition, group, hook and token. */
function requiredDetail(detail: Fields, kind: LifecycleKind): LifecycleAction {
  const instanceId = checked(detail, 'EC2InstanceId');
  const transition = str(detail, 'LifecycleTransition', true);
  if (transition !== TRANSITIONS[kind]) {
    throw new InvalidEventError(
      `detail.LifecycleTransition ${echo(transition)} does not match detail-type; expected ${TRANSITIONS[kind]}`,
      'detail.LifecycleTransition',
    );
  }
  return {
    kind,
    instanceId,
    groupName: checked(detail, 'AutoScalingGroupName'),
    hookName: checked(detail, 'LifecycleHookName'),
    token: checked(detail, 'LifecycleActionToken'),
    transition: TRANSITIONS[kind],
  };
}

/** The optional fields: notification metadata, warm pool origin and destination, the envelope's ids. */
function optionalDetail(envelope: Fields, detail: Fields) {
  const metadata = str(detail, 'NotificationMetadata', false);
  if (metadata !== undefined && metadata.length > NOTIFICATION_METADATA_MAX) {
    throw new InvalidEventError(
      `detail.NotificationMetadata is ${metadata.length} characters; at most ${NOTIFICATION_METADATA_MAX}`,
      'detail.NotificationMetadata',
    );
  }
  return {
    origin: checked(detail, 'Origin', false) as LifecyclePlace | undefined,
    destination: checked(detail, 'Destination', false) as LifecyclePlace | undefined,
    notificationMetadata: metadata,
    eventId: envelopeField(envelope, 'id'),
    region: envelopeField(envelope, 'region'),
    account: envelopeField(envelope, 'account'),
    time: envelopeField(envelope, 'time'),
  };
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
