/**
 * The acquire event: `{ count?, overrides? }` directly, or in `detail` of an EventBridge event.
 *
 * Everything RunTask would refuse is refused here, before the lease or the stack is touched: at
 * most 10 tasks, at most 10 container overrides with distinct names (a task definition has at most
 * 10 containers), and the overrides' JSON within the 8192 characters ECS allows ("A total of 8192
 * characters are allowed for overrides. This limit includes the JSON formatting characters of the
 * override structure", RunTask API reference), and a task size Fargate offers (`taskSizeProblem`).
 * Container names, and a cpu or memory override given alone, are checked against the task
 * definition by the caller (`checkContainers`, a read before any write).
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

const range = (from: number, to: number, step: number) =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

/**
 * The task sizes Fargate runs: CPU units -> the memory values (MiB) allowed with it. ECS Developer
 * Guide, "Amazon ECS task definition parameters" > "Task size" (and "Troubleshoot Amazon ECS task
 * definition invalid CPU or memory errors"): 256: 512 MiB, 1 GB, 2 GB; 512: 1-4 GB; 1024: 2-8 GB;
 * 2048: 4-16 GB; 4096: 8-30 GB, in 1 GB steps; 8192: 16-60 GB in 4 GB steps and 16384: 32-120 GB
 * in 8 GB steps (both Linux platform 1.4.0 or later).
 */
export const FARGATE_TASK_SIZES: Readonly<Record<string, readonly number[]>> = {
  '256': [512, 1024, 2048],
  '512': range(1024, 4096, 1024),
  '1024': range(2048, 8192, 1024),
  '2048': range(4096, 16384, 1024),
  '4096': range(8192, 30720, 1024),
  '8192': range(16384, 61440, 4096),
  '16384': range(32768, 122880, 8192),
};

/**
 * Why `cpu` and `memory` (CPU units and MiB, as RunTask's overrides take them) are not a Fargate task
 * size, or undefined. A value left undefined is not checked (the task definition's applies); the
 * other must still appear in the table.
 */
export function taskSizeProblem(cpu: string | undefined, memory: string | undefined): string | undefined {
  const sizes = Object.entries(FARGATE_TASK_SIZES);
  if (cpu !== undefined && FARGATE_TASK_SIZES[cpu] === undefined) {
    return `cpu ${cpu} is not a Fargate task size (CPU units: ${sizes.map(([c]) => c).join(', ')})`;
  }
  if (memory === undefined) return undefined;
  const fits = sizes.filter(([, mib]) => mib.includes(Number(memory))).map(([c]) => c);
  if (cpu === undefined ? fits.length > 0 : fits.includes(cpu)) return undefined;
  const allowed = cpu === undefined ? undefined : FARGATE_TASK_SIZES[cpu];
  return allowed === undefined
    ? `memory ${memory} MiB is not a Fargate task size with any CPU value`
    : `memory ${memory} MiB does not go with cpu ${cpu} on Fargate (${allowed[0]}-${allowed[allowed.length - 1]} MiB in steps of ${(allowed[1] as number) - (allowed[0] as number)}${cpu === '256' ? ': 512, 1024 or 2048' : ''})`;
}

const CONTAINER_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const TASK_SIZE = /^[1-9]\d{0,5}$/;

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
        fail(`overrides.${key}`, 'a string of digits without a leading zero, e.g. "1024"');
      overrides[key] = v;
    }
    const sizeProblem = taskSizeProblem(overrides.cpu, overrides.memory);
    if (sizeProblem !== undefined) fail('overrides', `a Fargate task size: ${sizeProblem}`);
    const size = JSON.stringify(overrides).length;
    if (size > MAX_OVERRIDES_CHARS) {
      fail('overrides', `at most ${MAX_OVERRIDES_CHARS} characters of JSON (ECS's limit), not ${size}`);
    }
  }
  return { count, overrides, eventId };
}
