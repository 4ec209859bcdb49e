// Fuzz suite: malformed and out-of-scope lifecycle events against the three built hook handlers
// (dist/index.mjs, as Lambda loads them) on the local emulator, and malformed configurations
// against their config parsers and bundles. Every bad input must be refused before any AWS call,
// with a clear, bounded reason and bounded log lines.
import { resolve } from 'node:path';
import { ConfigError } from '@netkit/aws-core/errors';
import { importBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { loadConfig as loadEipConfig } from '@netkit/eip-associator/src/config.ts';
import { loadConfig as loadEniAttachConfig } from '@netkit/eni-attach/src/config.ts';
import { loadConfig as loadPoolAgentConfig } from '@netkit/eni-pool-agent/src/config.ts';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from './support/capture-logs.ts';
import { HIDDEN_RAW, withHidden } from './support/hostile.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const GROUP = 'fuzz-asg';
const LAUNCH_HOOK = 'fuzz-launch';
const TERMINATE_HOOK = 'fuzz-terminate';
const INSTANCE = 'i-0123456789abcdef0';
const TOKEN = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
/** Longest reason a rejection may carry, and longest log line a rejection may write. */
const MAX_REASON = 400;
const MAX_LOG_LINE = 2_000;
const SEED = 19;
const RUNS = 60;

const scopeEnv = {
  AUTO_SCALING_GROUP_NAME: GROUP,
  LIFECYCLE_HOOK_NAMES: `${LAUNCH_HOOK},${TERMINATE_HOOK}`,
  POWERTOOLS_METRICS_NAMESPACE: 'NetkitFuzz',
};
const packages = {
  'eip-associator': {
    ...scopeEnv,
    EIP_POOL_TAGS: '{"Application":"fuzz"}',
    ASSOCIATE_TIMEOUT_SECONDS: '2',
  },
  'eni-attach': {
    ...scopeEnv,
    SUBNET_MAP: '{"us-east-1a":"subnet-0123456789abcdef0"}',
    SECURITY_GROUP_IDS: 'sg-0123456789abcdef0',
  },
  'eni-pool-agent': { ...scopeEnv, ENI_POOL_TAGS: '{"Pool":"fuzz"}', ATTACH_TIMEOUT_SECONDS: '5' },
} as const;
type PackageName = keyof typeof packages;
const NAMES = Object.keys(packages) as PackageName[];

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

const emu = useEmulator();
const handlers = new Map<PackageName, Handler>();
const distDirs = new Map<PackageName, string>();

beforeAll(async () => {
  for (const name of NAMES) {
    const distDir = ensureBuilt(
      resolve(ROOT, 'packages', name),
      name === 'eni-attach' ? ['index', 'sweeper'] : ['index'],
    );
    distDirs.set(name, distDir);
    const bundle = await importBundle<{ handler: Handler }>(distDir, 'index', {
      ...emu().env,
      ...packages[name],
    });
    handlers.set(name, bundle.handler);
  }
}, 180_000);

afterEach(() => {
  // importBundle writes the package environment into process.env; later tests set their own.
  for (const env of Object.values(packages)) for (const key of Object.keys(env)) delete process.env[key];
});

// ------------------------------------------------------------------ generators

function validEvent(kind: 'launch' | 'terminate') {
  const launch = kind === 'launch';
  return {
    version: '0',
    id: '7a3e5b1c-9d2f-4e8a-b6c4-1f0e9d8c7b6a',
    'detail-type': launch
      ? 'EC2 Instance-launch Lifecycle Action'
      : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2026-11-28T10:00:00Z',
    region: 'us-east-1',
    resources: [
      `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:d4738357-2d40-4038-ae7e-b00ae0227003:autoScalingGroupName/${GROUP}`,
    ],
    detail: {
      LifecycleActionToken: TOKEN,
      AutoScalingGroupName: GROUP,
      LifecycleHookName: launch ? LAUNCH_HOOK : TERMINATE_HOOK,
      EC2InstanceId: INSTANCE,
      LifecycleTransition: launch
        ? 'autoscaling:EC2_INSTANCE_LAUNCHING'
        : 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: launch ? 'EC2' : 'AutoScalingGroup',
      Destination: launch ? 'AutoScalingGroup' : 'EC2',
    } as Record<string, unknown>,
  } as Record<string, unknown> & { detail: Record<string, unknown> };
}

const MEGABYTE = 'x'.repeat(1 << 20);
/** Hostile strings: control characters, huge, injection-shaped, random unicode. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 2048,
  }),
  fc.constantFrom(
    MEGABYTE,
    `i-${'0'.repeat(1 << 20)}`,
    `${GROUP}\n`,
    ` ${GROUP}`,
    `${GROUP}\u0000`,
    `${LAUNCH_HOOK} `,
    `${TOKEN}\r\n`,
    TOKEN.toUpperCase().replace(/-/g, ''),
    '$(reboot)',
    '"; DROP TABLE',
    '../../etc/passwd',
    'i-0123456789ABCDEF0',
    'i-0123',
  ),
);
/** Any JSON-ish value: hostile strings, or something that is not a string at all. */
const hostileValue = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const absent = (v: unknown) => v === undefined || v === null || v === '';

/** One change that makes a valid event invalid or out of scope, whatever else is valid. */
interface Corruption {
  describe: string;
  apply(event: ReturnType<typeof validEvent>): void;
}

const setDetail = (field: string, bad: fc.Arbitrary<unknown>) =>
  bad.map(
    (value): Corruption => ({
      describe: `detail.${field} = ${JSON.stringify(value)?.slice(0, 60)}`,
      apply: (e) => {
        // A detail already replaced by a non-object stays that way (it is rejected for that).
        if (typeof e.detail === 'object' && e.detail !== null && !Array.isArray(e.detail))
          e.detail[field] = value;
      },
    }),
  );
const setTop = (field: string, bad: fc.Arbitrary<unknown>) =>
  bad.map(
    (value): Corruption => ({
      describe: `${field} = ${JSON.stringify(value)?.slice(0, 60)}`,
      apply: (e) => {
        e[field] = value;
      },
    }),
  );
const REQUIRED = [
  'LifecycleActionToken',
  'AutoScalingGroupName',
  'LifecycleHookName',
  'EC2InstanceId',
  'LifecycleTransition',
];

const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  setDetail(
    'AutoScalingGroupName',
    hostileValue.filter((v) => v !== GROUP),
  ),
  setDetail(
    'LifecycleHookName',
    hostileValue.filter((v) => v !== LAUNCH_HOOK && v !== TERMINATE_HOOK),
  ),
  setDetail(
    'LifecycleActionToken',
    hostileValue.filter((v) => !(typeof v === 'string' && UUID.test(v))),
  ),
  setDetail(
    'EC2InstanceId',
    hostileValue.filter((v) => !(typeof v === 'string' && /^i-[0-9a-f]{8,17}$/.test(v))),
  ),
  setDetail(
    'LifecycleTransition',
    hostileValue.filter((v) => typeof v !== 'string' || !v.startsWith('autoscaling:EC2_INSTANCE_')),
  ),
  setDetail(
    'Origin',
    hostileValue.filter((v) => !absent(v) && !['EC2', 'WarmPool', 'AutoScalingGroup'].includes(v as string)),
  ),
  setDetail(
    'NotificationMetadata',
    fc.oneof(fc.constant('m'.repeat(1024)), fc.constant(MEGABYTE), fc.integer(), fc.object({ maxDepth: 1 })),
  ),
  setTop(
    'source',
    hostileValue.filter((v) => v !== 'aws.autoscaling'),
  ),
  setTop(
    'detail-type',
    hostileValue.filter((v) => typeof v !== 'string' || !v.endsWith('Lifecycle Action')),
  ),
  setTop(
    'detail',
    hostileValue.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  ),
  setTop(
    'time',
    hostileValue.filter((v) => !absent(v) && !(typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v))),
  ),
  setTop(
    'region',
    hostileValue.filter(
      (v) => !absent(v) && !(typeof v === 'string' && /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(v)),
    ),
  ),
  setTop(
    'account',
    hostileValue.filter((v) => !absent(v) && !(typeof v === 'string' && /^\d{12}$/.test(v))),
  ),
  fc.constantFrom(...REQUIRED).map(
    (field): Corruption => ({
      describe: `delete detail.${field}`,
      apply: (e) => {
        if (typeof e.detail === 'object' && e.detail !== null) delete e.detail[field];
      },
    }),
  ),
  // Well-formed, but another group's or another hook's: out of scope, never acted on.
  fc
    .stringMatching(/^[A-Za-z0-9 _.:/=+@-]{1,255}$/)
    .filter((g) => g !== GROUP)
    .map(
      (group): Corruption => ({
        describe: `another group ${JSON.stringify(group)}`,
        apply: (e) => {
          if (typeof e.detail === 'object' && e.detail !== null) e.detail.AutoScalingGroupName = group;
        },
      }),
    ),
  fc
    .stringMatching(/^[A-Za-z0-9_/-]{1,255}$/)
    .filter((h) => h !== LAUNCH_HOOK && h !== TERMINATE_HOOK)
    .map(
      (hook): Corruption => ({
        describe: `another hook ${JSON.stringify(hook)}`,
        apply: (e) => {
          if (typeof e.detail === 'object' && e.detail !== null) e.detail.LifecycleHookName = hook;
        },
      }),
    ),
);

const badEvent = fc
  .record({
    kind: fc.constantFrom('launch' as const, 'terminate' as const),
    corruptions: fc.array(corruption, { minLength: 1, maxLength: 3 }),
  })
  .map(({ kind, corruptions }) => {
    const event = validEvent(kind);
    for (const c of corruptions) c.apply(event);
    return { event, why: corruptions.map((c) => c.describe) };
  });

/** Not an event at all. */
const notAnEvent = fc.oneof(
  fc.anything({ maxDepth: 2 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 1 }), { maxKeys: 5 }),
);

// ------------------------------------------------------------------ events

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

describe.each(NAMES)('%s built handler', (name) => {
  it('rejects malformed and out-of-scope lifecycle events with a bounded reason and makes no AWS call', async () => {
    const handler = handlers.get(name)!;
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(badEvent, async ({ event, why }) => {
        const { value, lines } = await captureLogs(() => handler(event, fakeContext(30_000)));
        expectRejected(value, lines, why);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(await emu().calls()).toEqual({});
  });

  it('rejects values that are not lifecycle events at all, making no AWS call', async () => {
    const handler = handlers.get(name)!;
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(notAnEvent, async (event) => {
        const { value, lines } = await captureLogs(() => handler(event, fakeContext(30_000)));
        expectRejected(value, lines, event);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
    expect(await emu().calls()).toEqual({});
  });
});

describe.each(NAMES)('%s built handler, hidden characters', (name) => {
  it('rejects a group or hook name with invisible or bidirectional characters, quoting them escaped', async () => {
    const handler = handlers.get(name)!;
    await emu().resetCalls();
    const hidden = fc.oneof(
      withHidden(GROUP).map((v) => ['AutoScalingGroupName', v] as const),
      withHidden(LAUNCH_HOOK).map((v) => ['LifecycleHookName', v] as const),
    );
    await fc.assert(
      fc.asyncProperty(hidden, async ([field, value]) => {
        const event = validEvent('launch');
        event.detail[field] = value;
        const { value: result, lines } = await captureLogs(() => handler(event, fakeContext(30_000)));
        expectRejected(result, lines, { field, value });
        expect((result as { reason: string }).reason, 'raw hidden character').not.toMatch(HIDDEN_RAW);
        for (const line of lines) expect(line, 'raw hidden character logged').not.toMatch(HIDDEN_RAW);
      }),
      { seed: SEED, numRuns: 15 },
    );
    expect(await emu().calls()).toEqual({});
  });
});

describe('well-formed launch events whose action is not live', () => {
  it.each([
    'eni-attach',
    'eni-pool-agent',
  ] as const)('%s checks with one heartbeat and changes nothing', async (name) => {
    await emu().resetCalls();
    const { value } = await captureLogs(() => handlers.get(name)!(validEvent('launch'), fakeContext(30_000)));
    // Both speak the shared HandlerOutcome vocabulary.
    expect(value).toMatchObject({ status: 'ended', instanceId: INSTANCE });
    expect(await emu().calls()).toEqual({ 'autoscaling:RecordLifecycleActionHeartbeat': 1 });
  });
});

// ------------------------------------------------------------------ configurations

const configs: Record<PackageName, (env: Record<string, string>) => unknown> = {
  'eip-associator': loadEipConfig,
  'eni-attach': loadEniAttachConfig,
  'eni-pool-agent': loadPoolAgentConfig,
};

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
    `{"a":"${MEGABYTE}"}`,
    `[${'"sg-0123456789abcdef0",'.repeat(5_000)}"x"]`,
    '{',
    '[]',
    '{}',
  ),
);

describe('eni-attach configuration: AWS limits', () => {
  it('refuses more security groups than a network interface takes (16) and quotes a bad tag key bounded, in at most 1 KB', () => {
    const valid = packages['eni-attach'] as Record<string, string>;
    const overLimit = fc.oneof(
      fc
        .uniqueArray(fc.stringMatching(/^[0-9a-f]{17}$/), { minLength: 17, maxLength: 64 })
        .map((hex) => ['SECURITY_GROUP_IDS', hex.map((h) => `sg-${h}`).join(',')] as const),
      fc
        .tuple(
          fc.integer({ min: 129, max: 5_000 }),
          fc.option(fc.constantFrom('\u202E', '\u200B'), { nil: '' }),
        )
        .map(([n, hidden]) => ['ENI_TAGS', JSON.stringify({ [`k${hidden}${'k'.repeat(n)}`]: 'v' })] as const),
    );
    fc.assert(
      fc.property(overLimit, ([variable, value]) => {
        let error: unknown;
        try {
          loadEniAttachConfig({ ...valid, [variable]: value });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([variable]);
        const message = (error as ConfigError).message;
        expect(message.length).toBeLessThanOrEqual(1_024);
        expect(message).not.toMatch(HIDDEN_RAW);
      }),
      { seed: SEED, numRuns: 30 },
    );
  });
});

describe('eni-attach built sweeper handler', () => {
  it('ignores what the event holds: with no orphan it changes nothing, whatever it is sent', async () => {
    const distDir = distDirs.get('eni-attach')!;
    const { handler: sweeper } = await importBundle<{ handler: Handler }>(distDir, 'sweeper', {
      ...emu().env,
      ...packages['eni-attach'],
    });
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything({ maxDepth: 2 }),
          badEvent.map(({ event }) => event),
        ),
        async (event) => {
          const { lines } = await captureLogs(() => sweeper(event, fakeContext(30_000)));
          for (const line of lines)
            expect(line.length, 'log line too long').toBeLessThanOrEqual(MAX_LOG_LINE);
        },
      ),
      { seed: SEED, numRuns: 5 },
    );
    const mutating = Object.keys(await emu().calls()).filter((k) => !/:(Describe|List|Get)/.test(k));
    expect(mutating).toEqual([]);
  });
});

describe.each(NAMES)('%s configuration', (name) => {
  const valid = packages[name] as Record<string, string>;
  const variables = Object.keys(valid).filter((v) => v !== 'POWERTOOLS_METRICS_NAMESPACE');

  it('refuses a bad value of any variable with a ConfigError naming it, bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(...variables), hostileEnvValue, (variable, value) => {
        let error: unknown;
        try {
          configs[name]({ ...valid, [variable]: value });
        } catch (e) {
          error = e;
        }
        if (error === undefined) return; // the random value happened to be acceptable
        expect(error).toBeInstanceOf(ConfigError);
        const message = (error as ConfigError).message;
        expect(message).toContain(`${variable}=`);
        expect(message.length).toBeLessThanOrEqual(1_024);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('requires AUTO_SCALING_GROUP_NAME and refuses control characters, overlong names and bad hook lists', () => {
    const bad = fc.oneof(
      fc.constant({ AUTO_SCALING_GROUP_NAME: '' }),
      fc.constant({ AUTO_SCALING_GROUP_NAME: 'g'.repeat(256) }),
      fc.constant({ AUTO_SCALING_GROUP_NAME: MEGABYTE }),
      fc
        .string({
          unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
          minLength: 1,
          maxLength: 20,
        })
        .filter((c) => c.trim() !== '')
        .map((c) => ({ AUTO_SCALING_GROUP_NAME: `asg${c}x` })),
      fc
        .constantFrom('a b', 'a,,b', 'hook;rm', 'h'.repeat(256), '["a",1]')
        .map((v) => ({ LIFECYCLE_HOOK_NAMES: v })),
    );
    fc.assert(
      fc.property(bad, (patch) => {
        const variable = Object.keys(patch)[0]!;
        expect(() => configs[name]({ ...valid, ...patch })).toThrow(ConfigError);
        expect(() => configs[name]({ ...valid, ...patch })).toThrow(`${variable}=`);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('the built bundle refuses to load with a bad AUTO_SCALING_GROUP_NAME, before any AWS call', async () => {
    await emu().resetCalls();
    await expect(
      importBundle(distDirs.get(name)!, 'index', {
        ...emu().env,
        ...valid,
        // (A NUL would end the value in the process environment: a newline does not.)
        AUTO_SCALING_GROUP_NAME: `evil\n${MEGABYTE}`,
      }),
    ).rejects.toThrow(/AUTO_SCALING_GROUP_NAME="evil\\nx+"\.\.\. \(1048581 characters\): expected/);
    expect(await emu().calls()).toEqual({});
  });
});
