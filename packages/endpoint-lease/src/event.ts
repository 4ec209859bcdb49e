/** The acquire event: `{ count?, overrides? }` directly, or in `detail` of an EventBridge event. */
import { InvalidEventError } from '@netkit/aws-core/errors';

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
    if (!allowed.includes(key)) fail(`${field}.${key}`, `absent (allowed: ${allowed.join(', ')})`);
  }
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

export function parseAcquireEvent(event: unknown): AcquireRequest {
  if (event === undefined || event === null) return { count: 1, overrides: undefined, eventId: undefined };
  if (!isObj(event)) fail('event', 'a JSON object');
  let body: Obj = event;
  let eventId: string | undefined;
  if ('detail-type' in event || 'source' in event) {
    // An EventBridge event (rule or scheduler target): the request is in `detail`.
    if (event.detail !== undefined && !isObj(event.detail)) fail('detail', 'an object');
    body = (event.detail as Obj | undefined) ?? {};
    onlyKeys(body, ['count', 'overrides'], 'detail');
    if (typeof event.id === 'string' && event.id !== '') eventId = event.id;
  } else {
    onlyKeys(event, ['count', 'overrides'], 'event');
  }
  let count = 1;
  if (body.count !== undefined) {
    if (
      typeof body.count !== 'number' ||
      !Number.isInteger(body.count) ||
      body.count < 1 ||
      body.count > 10
    ) {
      fail('count', 'an integer from 1 to 10 (RunTask starts at most 10 tasks)');
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
      overrides.containerOverrides = o.containerOverrides.map((c, i) =>
        parseContainer(c, `overrides.containerOverrides[${i}]`),
      );
    }
    for (const key of ['cpu', 'memory'] as const) {
      const v = o[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !TASK_SIZE.test(v))
        fail(`overrides.${key}`, 'a string of digits, e.g. "1024"');
      overrides[key] = v;
    }
  }
  return { count, overrides, eventId };
}
