/** The acquire event, `{ count?, overrides? }` or an EventBridge event with it in `detail` (ADR 0088). */
import type { ContainerOverride, TaskOverride } from '@aws-sdk/client-ecs';
import { echo, InvalidEventError } from '@netkit/aws-core/errors';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, expected: string): never {
  throw new InvalidEventError(`Invalid acquire event: ${field} must be ${expected}`, field);
}

/** `value` as an object with no keys but `allowed`. */
function object(value: unknown, field: string, allowed: string[], expected = 'an object'): Obj {
  if (!isObj(value)) fail(field, expected);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${field}.${echo(key, 40)}`, `absent (allowed: ${allowed.join(', ')})`);
  }
  return value;
}

/** RunTask's limits: overrides JSON (formatting included), containers of a task definition, tasks. */
const MAX_OVERRIDES_CHARS = 8192;
const MAX_CONTAINER_OVERRIDES = 10;
const MAX_TASKS = 10;

const range = (from: number, to: number, step: number) =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

/** Fargate task sizes, CPU units -> memory MiB (ECS Developer Guide, "Task size"). */
export const FARGATE_TASK_SIZES: Readonly<Record<string, readonly number[]>> = {
  '256': [512, 1024, 2048],
  '512': range(1024, 4096, 1024),
  '1024': range(2048, 8192, 1024),
  '2048': range(4096, 16384, 1024),
  '4096': range(8192, 30720, 1024),
  '8192': range(16384, 61440, 4096),
  '16384': range(32768, 122880, 8192),
};

/** Why `cpu` and `memory` are not a Fargate task size, or undefined; an undefined value is not checked. */
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

function parseContainer(container: unknown, field: string): ContainerOverride {
  const value = object(container, field, ['name', 'command', 'environment', 'cpu', 'memory']);
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
    out.environment = value.environment.map((entry, i) => {
      const f = `${field}.environment[${i}]`;
      const e = object(entry, f, ['name', 'value'], 'an object {name, value}');
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
const BODY_KEYS = ['count', 'overrides'];

/** The request body and, for an EventBridge event (rule or scheduler target), its id. */
function requestBody(event: Obj, acceptedSources: readonly string[]): { body: Obj; eventId?: string } {
  if (!('detail-type' in event || 'source' in event || 'detail' in event)) {
    return { body: object(event, 'event', BODY_KEYS) };
  }
  if (typeof event.source !== 'string' || !acceptedSources.includes(event.source))
    fail('source', `one of ACQUIRE_EVENT_SOURCES (${acceptedSources.join(', ')}), not ${echo(event.source)}`);
  if (typeof event['detail-type'] !== 'string') fail('detail-type', 'a string');
  const body = object(event.detail, 'detail', BODY_KEYS, 'an object (EventBridge always sends one)');
  if (event.id !== undefined && (typeof event.id !== 'string' || !EVENT_ID.test(event.id)))
    fail('id', 'an EventBridge event id');
  return { body, eventId: event.id };
}

function parseOverrides(value: unknown): TaskOverride {
  const o = object(value, 'overrides', ['containerOverrides', 'cpu', 'memory']);
  const overrides: TaskOverride = {};
  if (o.containerOverrides !== undefined) {
    const field = 'overrides.containerOverrides';
    if (!Array.isArray(o.containerOverrides)) fail(field, 'an array');
    const entries = o.containerOverrides.length;
    if (entries > MAX_CONTAINER_OVERRIDES)
      fail(field, `at most ${MAX_CONTAINER_OVERRIDES} entries (one per container), not ${entries}`);
    const containers = o.containerOverrides.map((c, i) => parseContainer(c, `${field}[${i}]`));
    const names = containers.map((c) => c.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) fail(field, `one entry per container (${twice} is named twice)`);
    overrides.containerOverrides = containers;
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
  if (size > MAX_OVERRIDES_CHARS)
    fail('overrides', `at most ${MAX_OVERRIDES_CHARS} characters of JSON (ECS's limit), not ${size}`);
  return overrides;
}

/** `eventId`, the EventBridge event id if any, is the RunTask idempotency token. */
export type AcquireRequest = ReturnType<typeof parseAcquireEvent>;

export function parseAcquireEvent(event: unknown, acceptedSources: readonly string[]) {
  if (event === undefined || event === null) return { count: 1, overrides: undefined, eventId: undefined };
  if (!isObj(event)) fail('event', 'a JSON object');
  const { body, eventId } = requestBody(event, acceptedSources);
  const { count = 1 } = body;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_TASKS)
    fail('count', `an integer from 1 to ${MAX_TASKS} (RunTask starts at most ${MAX_TASKS} tasks)`);
  const overrides = body.overrides === undefined ? undefined : parseOverrides(body.overrides);
  return { count, overrides, eventId };
}
