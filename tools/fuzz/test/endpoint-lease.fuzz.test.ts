// Fuzz suite for endpoint-lease: malformed acquire events against the built acquire handler
// (dist/acquire.mjs, as Lambda loads it) on the local emulator, and malformed configurations
// against its config parser. Every bad input must be refused before any AWS call (no lease, no
// stack, no task), with a clear, bounded reason and bounded log lines.
import { resolve } from 'node:path';
import { ConfigError } from '@netkit/aws-core/errors';
import { importBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { loadAcquireConfig } from '@netkit/endpoint-lease/src/config.ts';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from './support/capture-logs.ts';
import {
  HIDDEN_RAW,
  isFargateCpu,
  isFargateMemory,
  isFargateSize,
  taskCpu,
  taskMemory,
  withHidden,
} from './support/hostile.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const MAX_REASON = 400;
const MAX_LOG_LINE = 2_000;
const SEED = 13;
const RUNS = 60;

const ENV = {
  ENDPOINT_STACK_NAME: 'fuzz-endpoints',
  VPC_ID: 'vpc-0123456789abcdef0',
  SUBNET_IDS: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  TASK_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0',
  CLUSTER_ARN: 'arn:aws:ecs:us-east-1:123456789012:cluster/fuzz',
  TASK_DEFINITION_ARN: 'arn:aws:ecs:us-east-1:123456789012:task-definition/fuzz:1',
  POWERTOOLS_METRICS_NAMESPACE: 'NetkitFuzz',
};

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
const emu = useEmulator();
let acquire: Handler;
let reaper: Handler;

beforeAll(async () => {
  const distDir = ensureBuilt(resolve(ROOT, 'packages', 'endpoint-lease'), ['acquire', 'reaper']);
  acquire = (await importBundle<{ handler: Handler }>(distDir, 'acquire', { ...emu().env, ...ENV })).handler;
  reaper = (await importBundle<{ handler: Handler }>(distDir, 'reaper', { ...emu().env, ...ENV })).handler;
}, 180_000);

afterAll(() => {
  for (const key of Object.keys(ENV)) delete process.env[key];
});

function validEvent() {
  return {
    version: '0',
    id: '89d1a02d-5ec7-412e-82f5-13505f849b41',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-11-28T10:55:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/jobs'],
    detail: { count: 1 } as Record<string, unknown>,
  } as Record<string, unknown> & { detail: Record<string, unknown> };
}

const MEGABYTE = 'x'.repeat(1 << 20);
const hostileString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 2048,
  }),
  fc.constantFrom(MEGABYTE, 'aws.events ', 'AWS.EVENTS', 'aws.ecs', '$(reboot)', '"; DROP TABLE', ''),
);
const hostileValue = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

interface Corruption {
  describe: string;
  apply(event: ReturnType<typeof validEvent>): void;
}
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const inDetail = (describe: string, change: (detail: Record<string, unknown>) => void): Corruption => ({
  describe,
  apply: (e) => {
    // A detail already replaced by a non-object stays that way (it is rejected for that).
    if (isObj(e.detail)) change(e.detail);
  },
});
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 60);

const container = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra });

const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  hostileValue
    .filter((v) => v !== 'aws.events' && v !== 'aws.scheduler')
    .map((v) => ({ describe: `source = ${show(v)}`, apply: (e) => void (e.source = v) }) as Corruption),
  hostileValue
    .filter((v) => !isObj(v))
    .map(
      (v) => ({ describe: `detail = ${show(v)}`, apply: (e) => void (e.detail = v as never) }) as Corruption,
    ),
  fc.constant<Corruption>({
    describe: 'no detail',
    apply: (e) => void delete (e as Record<string, unknown>).detail,
  }),
  hostileValue
    .filter((v) => typeof v !== 'string')
    .map(
      (v) =>
        ({ describe: `detail-type = ${show(v)}`, apply: (e) => void (e['detail-type'] = v) }) as Corruption,
    ),
  hostileValue
    .filter((v) => !(typeof v === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(v)))
    .map((v) => ({ describe: `id = ${show(v)}`, apply: (e) => void (e.id = v) }) as Corruption),
  hostileValue
    .filter((v) => !(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 10))
    .map((v) => inDetail(`detail.count = ${show(v)}`, (d) => void (d.count = v))),
  fc
    .string({ minLength: 1, maxLength: 40 })
    .filter((k) => k !== 'count' && k !== 'overrides' && k !== '__proto__')
    .map((k) => inDetail(`detail.${show(k)} = 1`, (d) => void (d[k] = 1))),
  fc.integer({ min: 11, max: 1000 }).map((n) =>
    inDetail(`${n} container overrides`, (d) => {
      d.overrides = { containerOverrides: Array.from({ length: n }, (_, i) => container(`c${i}`)) };
    }),
  ),
  fc.integer({ min: 8_200, max: 1 << 20 }).map((n) =>
    inDetail(`an environment value of ${n} characters`, (d) => {
      d.overrides = {
        containerOverrides: [container('app', { environment: [{ name: 'BIG', value: 'v'.repeat(n) }] })],
      };
    }),
  ),
  fc.integer({ min: 2, max: 10 }).map((n) =>
    inDetail(`one container named ${n} times`, (d) => {
      d.overrides = { containerOverrides: Array.from({ length: n }, () => container('app')) };
    }),
  ),
  hostileValue
    .filter((v) => !(typeof v === 'string' && /^[A-Za-z0-9_-]{1,255}$/.test(v)))
    .map((v) =>
      inDetail(`container name ${show(v)}`, (d) => {
        d.overrides = { containerOverrides: [{ name: v }] };
      }),
    ),
  hostileValue
    .filter((v) => !(typeof v === 'string' && /^\d{1,6}$/.test(v)))
    .map((v) => inDetail(`overrides.cpu = ${show(v)}`, (d) => void (d.overrides = { cpu: v }))),
  hostileValue
    .filter((v) => !isObj(v))
    .map((v) => inDetail(`overrides = ${show(v)}`, (d) => void (d.overrides = v))),
);

const badEvent = fc.array(corruption, { minLength: 1, maxLength: 3 }).map((corruptions) => {
  const event = validEvent();
  for (const c of corruptions) c.apply(event);
  return { event, why: corruptions.map((c) => c.describe) };
});

/** Not an acquire request: a non-object, or an object with a key a direct request cannot have. */
const notAnEvent = fc.oneof(
  fc
    .anything({ maxDepth: 2 })
    .filter((v) => v !== null && v !== undefined && (typeof v !== 'object' || Array.isArray(v))),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 1 }), { minKeys: 1, maxKeys: 5 })
    .filter((d) => Object.keys(d).some((k) => k !== 'count' && k !== 'overrides')),
);

function expectRejected(result: unknown, lines: string[], why: unknown) {
  const r = result as { status?: unknown; reason?: unknown };
  expect(r?.status, `not rejected: ${JSON.stringify(why)}`).toBe('rejected');
  expect(typeof r.reason).toBe('string');
  expect((r.reason as string).length, `reason too long for ${JSON.stringify(why)}`).toBeLessThanOrEqual(
    MAX_REASON,
  );
  for (const line of lines) expect(line.length, 'log line too long').toBeLessThanOrEqual(MAX_LOG_LINE);
  // Bounded per invocation too, whatever the input.
  expect(lines.join('\n').length, 'logs of one invocation too long').toBeLessThanOrEqual(MAX_LOG_LINE * 4);
}

/**
 * Task sizes Fargate does not run (ECS Developer Guide, "Task size"): a pair outside the table, or a
 * value alone that no row takes. The oracle is the documented table, written in support/hostile.ts.
 */
const badTaskSize = fc.oneof(
  fc
    .tuple(taskCpu, taskMemory)
    .filter(([cpu, memory]) => !isFargateSize(cpu, memory))
    .map(([cpu, memory]) => ({ cpu: String(cpu), memory: String(memory) })),
  taskCpu.filter((cpu) => !isFargateCpu(cpu)).map((cpu) => ({ cpu: String(cpu) })),
  taskMemory.filter((memory) => !isFargateMemory(memory)).map((memory) => ({ memory: String(memory) })),
);

describe('endpoint-lease built acquire handler', () => {
  it('rejects malformed acquire events (ECS limits, source, detail) with a bounded reason and no AWS call', async () => {
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(badEvent, async ({ event, why }) => {
        const { value, lines } = await captureLogs(() => acquire(event, fakeContext(30_000)));
        expectRejected(value, lines, why);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(await emu().calls()).toEqual({});
  }, 120_000);

  it("rejects task sizes outside Fargate's table before the lease, naming the size, with no AWS call", async () => {
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(badTaskSize, async (overrides) => {
        const event = validEvent();
        event.detail.overrides = overrides;
        const { value, lines } = await captureLogs(() => acquire(event, fakeContext(30_000)));
        expectRejected(value, lines, overrides);
        expect((value as { reason: string }).reason).toMatch(/overrides|cpu|memory/);
      }),
      { seed: SEED, numRuns: 40 },
    );
    expect(await emu().calls()).toEqual({});
  });

  it('escapes invisible and bidirectional characters in what a rejection quotes', async () => {
    await emu().resetCalls();
    const hidden = fc.oneof(
      withHidden('aws.events').map((v) => ({
        field: 'source',
        apply: (e: ReturnType<typeof validEvent>) => void (e.source = v),
      })),
      withHidden('app').map((v) => ({
        field: 'container name',
        apply: (e: ReturnType<typeof validEvent>) =>
          void (e.detail.overrides = { containerOverrides: [{ name: v }] }),
      })),
      withHidden('count').map((v) => ({
        field: 'detail key',
        apply: (e: ReturnType<typeof validEvent>) => void (e.detail[v] = 1),
      })),
    );
    await fc.assert(
      fc.asyncProperty(hidden, async ({ field, apply }) => {
        const event = validEvent();
        apply(event);
        const { value, lines } = await captureLogs(() => acquire(event, fakeContext(30_000)));
        expectRejected(value, lines, field);
        expect((value as { reason: string }).reason, `raw hidden character (${field})`).not.toMatch(
          HIDDEN_RAW,
        );
        for (const line of lines) expect(line, 'raw hidden character logged').not.toMatch(HIDDEN_RAW);
      }),
      { seed: SEED, numRuns: 20 },
    );
    expect(await emu().calls()).toEqual({});
  });

  it('rejects values that are not acquire requests at all, making no AWS call', async () => {
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(notAnEvent, async (event) => {
        const { value, lines } = await captureLogs(() => acquire(event, fakeContext(30_000)));
        expectRejected(value, lines, event);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
    expect(await emu().calls()).toEqual({});
  }, 120_000);
});

describe('endpoint-lease built reaper handler', () => {
  it('ignores what the event holds: with nothing leased it changes nothing, whatever it is sent', async () => {
    await emu().resetCalls();
    const anyEvent = fc.oneof(
      fc.anything({ maxDepth: 2 }),
      badEvent.map(({ event }) => event),
    );
    await fc.assert(
      fc.asyncProperty(anyEvent, async (event) => {
        const { lines } = await captureLogs(() => reaper(event, fakeContext(30_000)));
        for (const line of lines) expect(line.length, 'log line too long').toBeLessThanOrEqual(MAX_LOG_LINE);
      }),
      { seed: SEED, numRuns: 5 },
    );
    const mutating = Object.keys(await emu().calls()).filter((k) => !/:(Describe|List|Get)/.test(k));
    expect(mutating).toEqual([]);
  });
});

const hostileEnvValue = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 512,
  }),
  fc.json({ maxDepth: 2 }),
  fc.constantFrom(
    MEGABYTE,
    `[${'"subnet-0123456789abcdef0",'.repeat(5_000)}"x"]`,
    '{',
    '[]',
    '0',
    '-1',
    '1e9',
  ),
);

describe('endpoint-lease configuration', () => {
  const variables = [
    ...Object.keys(ENV).filter((v) => v !== 'POWERTOOLS_METRICS_NAMESPACE'),
    'ENDPOINT_SUBNET_IDS',
    'ENDPOINT_SERVICES',
    'CFN_ROLE_ARN',
    'LEASE_SECONDS',
    'DELETE_POLICY',
    'BILLING_GUARD_SECONDS',
    'BILLING_ANCHOR',
    'CONSISTENCY_SETTLE_SECONDS',
    'ACQUIRE_EVENT_SOURCES',
    'DELETE_ATTEMPTS',
  ];

  it('refuses values over the AWS limits (awsvpc: 16 subnets, 5 security groups; short service names) in at most 1 KB', () => {
    const ids = (prefix: string, min: number, max: number) =>
      fc
        .uniqueArray(fc.stringMatching(/^[0-9a-f]{17}$/), { minLength: min, maxLength: max })
        .map((hex) => hex.map((h) => `${prefix}-${h}`).join(','));
    const overLimit = fc.oneof(
      ids('subnet', 17, 64).map((v) => ['SUBNET_IDS', v] as const),
      ids('sg', 6, 40).map((v) => ['TASK_SECURITY_GROUP_IDS', v] as const),
      fc
        .tuple(
          fc.constantFrom('us-east-1', 'eu-west-1', 'cn-north-1'),
          fc.constantFrom('logs', 'ecr.api', 'ecr.dkr'),
        )
        .map(([region, service]) => ['ENDPOINT_SERVICES', `com.amazonaws.${region}.${service}`] as const),
    );
    fc.assert(
      fc.property(overLimit, ([variable, value]) => {
        let error: unknown;
        try {
          loadAcquireConfig({ ...ENV, [variable]: value });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([variable]);
        expect((error as ConfigError).message.length).toBeLessThanOrEqual(1_024);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('refuses a bad value of any variable with a ConfigError naming it, bounded', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...variables), hostileEnvValue, (variable, value) => {
        let error: unknown;
        try {
          loadAcquireConfig({ ...ENV, [variable]: value });
        } catch (e) {
          error = e;
        }
        if (error === undefined) return; // the random value happened to be acceptable
        refused++;
        expect(error).toBeInstanceOf(ConfigError);
        const message = (error as ConfigError).message;
        expect(message).toContain(`${variable}=`);
        expect(message.length).toBeLessThanOrEqual(1_024);
      }),
      { seed: SEED, numRuns: 300 },
    );
    // The generator is hostile: nearly every value must have been refused.
    expect(refused).toBeGreaterThan(200);
  });
});
