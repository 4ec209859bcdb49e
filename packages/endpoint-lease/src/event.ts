/**
 * The acquire event: `{ count?, overrides? }` directly, or in `detail` of an EventBridge event.
 *
 * Everything RunTask would refuse is refused here, before the lease or the stack is touched: at
 * most 10 tasks, at most 10 container overrides with distinct names (a task definition has at most
 * 10 containers), and the overrides' JSON within the 8192 characters ECS allows ("A total of 8192
 * characters are allowed for overrides. This limit includes the JSON formatting characters of the
 * override structure", RunTask API reference). Container names are checked against the task
 * definition by the caller (`unknownContainers`).
 */
import { echo, InvalidEventError } from '@netkit/aws-core/errors';

export interface KeyValue {
  name: string;
  value: string;
}

export interface ContainerOverride {
  name: string;
  command?: string[];
  environment?: KeyValue[];
  cpu?: number;
  memory?: number;
}

export interface TaskOverrides {
  containerOverrides?: ContainerOverride[];
  cpu?: string;
  memory?: string;
}

export interface AcquireRequest {
  count: number;
  overrides: TaskOverrides | undefined;
  /** Idempotency token for RunTask: the EventBridge event id if any. */
  eventId: string | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, expected: string): never {
  throw new InvalidEventError(`Invalid acquire event: ${field} must be ${expected}`, field);
}

function onlyKeys(o: Obj, allowed: string[], field: string) {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) fail(`${field}.${echo(key, 40)}`, `absent (allowed: ${allowed.join(', ')})`);
  }
}

/** RunTask: overrides JSON, formatting included. */
export const MAX_OVERRIDES_CHARS = 8192;
/** A task definition holds at most 10 container definitions. */
export const MAX_CONTAINER_OVERRIDES = 10;
/** RunTask `count`. */
export const MAX_TASKS = 10;

export interface AcquireEventOptions {
  /** `source` values accepted in an EventBridge envelope. */
  acceptedSources: readonly string[];
}

const CONTAINER_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const TASK_SIZE = /^\d{1,6}$/;

function parseContainer(value: unknown, field: string): ContainerOverride {
  if (!isObj(value)) fail(field, 'an object');
  onlyKeys(value, ['name', 'command', 'environment', 'cpu', 'memory'], field);
  if (typeof value.name !== 'string' || !CONTAINER_NAME.test(value.name))
    fail(`${field}.name`, 'a container name');
  const out: ContainerOverride = { name: value.name };
  if (value.command !== undefined) {
    if (!Array.isArray(value.command) || value.command.some((c) => typeof c !== 'string')) {
      fail(`${field}.command`, 'an array of strings');
    }
    out.command = value.command as string[];
  }
  if (value.environment !== undefined) {
    if (!Array.isArray(value.environment)) fail(`${field}.environment`, 'an array of {name, value}');
    out.environment = value.environment.map((e, i) => {
      const f = `${field}.environment[${i}]`;
      if (!isObj(e)) fail(f, 'an object {name, value}');
      onlyKeys(e, ['name', 'value'], f);
      if (typeof e.name !== 'string' || !ENV_NAME.test(e.name))
        fail(`${f}.name`, 'an environment variable name');
      if (typeof e.value !== 'string') fail(`${f}.value`, 'a string');
      return { name: e.name, value: e.value };
    });
  }
  for (const key of ['cpu', 'memory'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 120_000)
      fail(`${field}.${key}`, 'an integer');
    out[key] = v;
  }
  return out;
}

const EVENT_ID = /^[A-Za-z0-9-]{1,64}$/;

export function parseAcquireEvent(event: unknown, options: AcquireEventOptions): AcquireRequest {
  if (event === undefined || event === null) return { count: 1, overrides: undefined, eventId: undefined };
  if (!isObj(event)) fail('event', 'a JSON object');
  let body: Obj = event;
  let eventId: string | undefined;
  if ('detail-type' in event || 'source' in event || 'detail' in event) {
    // An EventBridge event (rule or scheduler target): the request is in `detail`.
    if (typeof event.source !== 'string' || !options.acceptedSources.includes(event.source)) {
      fail(
        'source',
        `one of ACQUIRE_EVENT_SOURCES (${options.acceptedSources.join(', ')}), not ${echo(event.source)}`,
      );
    }
    if (typeof event['detail-type'] !== 'string') fail('detail-type', 'a string');
    if (!isObj(event.detail)) fail('detail', 'an object (EventBridge always sends one)');
    body = event.detail;
    onlyKeys(body, ['count', 'overrides'], 'detail');
    if (event.id !== undefined) {
      if (typeof event.id !== 'string' || !EVENT_ID.test(event.id)) fail('id', 'an EventBridge event id');
      eventId = event.id;
    }
  } else {
    onlyKeys(event, ['count', 'overrides'], 'event');
  }
  let count = 1;
  if (body.count !== undefined) {
    if (
      typeof body.count !== 'number' ||
      !Number.isInteger(body.count) ||
      body.count < 1 ||
      body.count > MAX_TASKS
    ) {
      fail('count', `an integer from 1 to ${MAX_TASKS} (RunTask starts at most ${MAX_TASKS} tasks)`);
    }
    count = body.count;
  }
  let overrides: TaskOverrides | undefined;
  if (body.overrides !== undefined) {
    const o = body.overrides;
    if (!isObj(o)) fail('overrides', 'an object');
    onlyKeys(o, ['containerOverrides', 'cpu', 'memory'], 'overrides');
    overrides = {};
    if (o.containerOverrides !== undefined) {
      if (!Array.isArray(o.containerOverrides)) fail('overrides.containerOverrides', 'an array');
      if (o.containerOverrides.length > MAX_CONTAINER_OVERRIDES) {
        fail(
          'overrides.containerOverrides',
          `at most ${MAX_CONTAINER_OVERRIDES} entries (a task definition has at most ${MAX_CONTAINER_OVERRIDES} containers), not ${o.containerOverrides.length}`,
        );
      }
      overrides.containerOverrides = o.containerOverrides.map((c, i) =>
        parseContainer(c, `overrides.containerOverrides[${i}]`),
      );
      const names = overrides.containerOverrides.map((c) => c.name);
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice !== undefined)
        fail('overrides.containerOverrides', `one entry per container (${twice} is named twice)`);
    }
    for (const key of ['cpu', 'memory'] as const) {
      const v = o[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !TASK_SIZE.test(v))
        fail(`overrides.${key}`, 'a string of digits, e.g. "1024"');
      overrides[key] = v;
    }
    const size = JSON.stringify(overrides).length;
    if (size > MAX_OVERRIDES_CHARS) {
      fail('overrides', `at most ${MAX_OVERRIDES_CHARS} characters of JSON (ECS's limit), not ${size}`);
    }
  }
  return { count, overrides, eventId };
}
