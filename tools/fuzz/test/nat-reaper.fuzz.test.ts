// Fuzz suite: malformed custom resource requests, properties, response URLs, tags and configurations
// against the built nat-reaper provider (dist/index.mjs, as Lambda loads it) on the local emulator.
// Every bad input must end with 0 mutating AWS calls and, where a ResponseURL may be answered, one
// FAILED response with a clear, bounded reason; a ResponseURL that may not be answered gets nothing.
import { resolve } from 'node:path';
import { CreateTagsCommand, DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  defaultPhysicalResourceId,
  MAX_RESPONSE_BYTES,
  MAX_RESPONSE_URL_CHARS,
} from '@netkit/aws-core/custom-resource';
import { ConfigError } from '@netkit/aws-core/errors';
import { importBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import {
  createSeedStack,
  MUTATING_ACTIONS,
  type SeedStack,
  startResponseServer,
} from '@netkit/nat-reaper/demo/seed-stack.ts';
import { loadConfig } from '@netkit/nat-reaper/src/config.ts';
import { fakeContext } from '@netkit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from './support/capture-logs.ts';
import { HIDDEN_RAW, longString, lookAlikeResponseUrl, withHidden } from './support/hostile.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const SEED = 19;
const RUNS = 60;
/** Longest reason a FAILED answer may carry, and longest log line a bad request may write. */
const MAX_REASON = 1_024;
const MAX_LOG_LINE = 2_000;
const MEGABYTE = 'x'.repeat(1 << 20);

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

const emu = useEmulator();
let handler: Handler;
let responses: Awaited<ReturnType<typeof startResponseServer>>;
/** Ids the malformed requests name (they fail before any AWS call); the tag test creates a real stack. */
let stack: SeedStack = {
  vpcId: 'vpc-0123456789abcdef0',
  natGatewayId: 'nat-0123456789abcdef0',
  allocationId: 'eipalloc-0123456789abcdef0',
  internetGatewayId: 'igw-0123456789abcdef0',
  publicRouteTableId: 'rtb-0123456789abcdef1',
  privateRouteTableId: 'rtb-0123456789abcdef0',
};
let ec2: EC2Client;
let run = 0;

beforeAll(async () => {
  const distDir = ensureBuilt(resolve(ROOT, 'packages', 'nat-reaper'), ['index']);
  const bundle = await importBundle<{ handler: Handler }>(distDir, 'index', {
    ...emu().env,
    POWERTOOLS_METRICS_NAMESPACE: 'NetkitFuzz',
  });
  handler = bundle.handler;
  responses = await startResponseServer();
  ec2 = new EC2Client(emu().clientConfig);
}, 180_000);
afterAll(() => responses?.close());

/** A well-formed request for the seed stack, answered to a fresh path of the local response server. */
function validRequest(kind: 'Create' | 'Update' | 'Delete' = 'Create') {
  const name = `run-${++run}`;
  const stackId =
    'arn:aws:cloudformation:us-east-1:123456789012:stack/fuzz/5b1a8a70-c8a6-11ef-9c3a-0a1b2c3d4e5f';
  return {
    name,
    event: {
      RequestType: kind,
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:nat-reaper',
      ResponseURL: responses.url(name),
      StackId: stackId,
      RequestId: `1d2e3f4a-5b6c-7d8e-9f0a-${String(run).padStart(12, '0')}`,
      LogicalResourceId: 'NatReaper',
      ResourceType: 'Custom::NatReaper',
      ...(kind === 'Create' ? {} : { PhysicalResourceId: 'NatReaper-0123456789abcdef' }),
      ResourceProperties: {
        ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:nat-reaper',
        VpcId: stack.vpcId,
        NatGatewayIds: [stack.natGatewayId],
        RouteTableIds: [stack.privateRouteTableId, stack.publicRouteTableId],
        InternetGatewayId: stack.internetGatewayId,
      } as Record<string, unknown>,
    } as Record<string, unknown> & { ResourceProperties: Record<string, unknown> },
  };
}

const bodiesFor = (name: string) =>
  responses.received.filter((r) => r.url?.startsWith(`/cfn-response/${name}?`)).map((r) => r.body);

async function mutatingCalls(): Promise<Record<string, number>> {
  const calls = await emu().calls();
  return Object.fromEntries(Object.entries(calls).filter(([k]) => MUTATING_ACTIONS.includes(k)));
}

function expectOneFailed(name: string, lines: string[], why: unknown) {
  const bodies = bodiesFor(name) as { Status?: string; Reason?: string }[];
  expect(bodies, `answers for ${JSON.stringify(why)?.slice(0, 200)}`).toHaveLength(1);
  const [body] = bodies;
  expect(body?.Status, `not FAILED: ${JSON.stringify(why)?.slice(0, 200)}`).toBe('FAILED');
  expect(typeof body?.Reason).toBe('string');
  expect((body?.Reason as string).length).toBeLessThanOrEqual(MAX_REASON);
  expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
  for (const line of lines) expect(line.length, 'log line too long').toBeLessThanOrEqual(MAX_LOG_LINE);
  // Bounded per invocation too, whatever the input.
  expect(lines.join('\n').length, 'logs of one invocation too long').toBeLessThanOrEqual(MAX_LOG_LINE * 4);
}

// ------------------------------------------------------------------ generators

const hostileString = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 1024,
  }),
  fc.constantFrom(
    MEGABYTE,
    `nat-${'0'.repeat(1 << 20)}`,
    'vpc-0123',
    'nat-0123456789ABCDEF0',
    ' rtb-0123456789abcdef0,',
    '$(reboot)',
    'igw-0123456789abcdef0\n',
    'yes',
  ),
);
const hostileValue = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  fc.integer(),
  fc.constant(null),
  fc.array(hostileString, { minLength: 1, maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

/** One property made invalid (or one unknown property added); every such request must fail before any AWS call. */
const badProperty = fc.oneof(
  fc.record({
    field: fc.constant('VpcId'),
    value: hostileValue.filter((v) => typeof v !== 'string' || !/^vpc-[0-9a-f]{8,17}$/.test(v.trim())),
  }),
  fc.record({
    // Absent (null or '') is valid: the NAT gateways alone may be reaped.
    field: fc.constant('InternetGatewayId'),
    value: hostileValue.filter(
      (v) => v !== null && v !== '' && (typeof v !== 'string' || !/^igw-[0-9a-f]{8,17}$/.test(v.trim())),
    ),
  }),
  fc.record({
    field: fc.constantFrom('NatGatewayIds', 'RouteTableIds'),
    value: fc.oneof(
      hostileValue.filter((v) => v !== null && v !== ''),
      fc.array(hostileString, { minLength: 1, maxLength: 3 }),
    ),
  }),
  fc.record({
    field: fc.constantFrom('ReleaseEips', 'DryRun'),
    value: hostileValue.filter(
      (v) =>
        v !== null &&
        v !== '' &&
        !(typeof v === 'string' && ['true', 'false'].includes(v.trim().toLowerCase())),
    ),
  }),
  fc.record({
    field: fc
      .stringMatching(/^[A-Za-z][A-Za-z0-9]{0,30}$/)
      .filter(
        (k) =>
          ![
            'VpcId',
            'NatGatewayIds',
            'RouteTableIds',
            'InternetGatewayId',
            'ReleaseEips',
            'DryRun',
            'ServiceToken',
            'ServiceTimeout',
          ].includes(k),
      ),
    value: hostileValue,
  }),
);

/** A ResponseURL a response must never be sent to. */
const forbiddenUrl = fc.oneof(
  fc.constantFrom(
    'http://192.0.2.10/cfn-response?X-Amz-Signature=abc',
    'http://collector.invalid/x',
    'http://10.0.0.8:8080/r',
    'ftp://127.0.0.1/r',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'https://user:secret@127.0.0.1/r',
    '/relative/cfn-response',
    `https://127.0.0.1/${'a'.repeat(MAX_RESPONSE_URL_CHARS)}`,
    `https://127.0.0.1/${MEGABYTE}`,
    '',
  ),
  fc.webUrl({ validSchemes: ['http'] }).filter((u) => {
    const host = new URL(u).hostname;
    return host !== 'localhost' && !/^127\./.test(host) && host !== '[::1]';
  }),
  // https, but not CloudFormation's response bucket on S3 (issue #27: each of these ran the full reap).
  { weight: 3, arbitrary: lookAlikeResponseUrl },
  fc.integer(),
  fc.constant(null),
);

/**
 * An envelope id outside CloudFormation's limits (custom resource request and response reference;
 * CloudFormation quotas): over its length limit, or a valid id with invisible or bidirectional
 * characters in it. Each one must be refused before any work.
 */
const STACK_ID =
  'arn:aws:cloudformation:us-east-1:123456789012:stack/fuzz/5b1a8a70-c8a6-11ef-9c3a-0a1b2c3d4e5f';
const badEnvelopeId = fc.oneof(
  fc.record({
    field: fc.constant('LogicalResourceId'),
    value: fc.oneof(longString('NatReaper', 256, 6_000), withHidden('NatReaper')),
  }),
  fc.record({
    field: fc.constant('RequestId'),
    value: fc.oneof(longString('1d2e3f4a-', 129, 6_000), withHidden('1d2e3f4a-5b6c-7d8e-9f0a-1b2c3d4e5f6a')),
  }),
  fc.record({
    field: fc.constant('StackId'),
    value: fc.oneof(
      longString('a', 129, 6_000).map(
        (name) => `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/1`,
      ),
      withHidden(STACK_ID),
    ),
  }),
  fc.record({
    field: fc.constant('PhysicalResourceId'),
    value: fc.oneof(longString('NatReaper-0123', 1_025, 6_000), withHidden('NatReaper-0123456789abcdef')),
  }),
  fc.record({
    field: fc.constant('ResourceType'),
    value: fc.oneof(longString('Custom::Nat', 61, 3_000), withHidden('Custom::NatReaper')),
  }),
  fc.record({
    field: fc.constantFrom('RequestId', 'LogicalResourceId', 'StackId'),
    value: fc.constant(MEGABYTE),
  }),
);

// ------------------------------------------------------------------ requests

describe('nat-reaper built handler', () => {
  it('answers FAILED to malformed properties with a bounded reason naming them, and makes no AWS call', async () => {
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(
        fc.array(badProperty, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('Create' as const, 'Update' as const),
        async (bad, kind) => {
          const { name, event } = validRequest(kind);
          for (const { field, value } of bad) event.ResourceProperties[field] = value;
          const { lines } = await captureLogs(() => handler(event, fakeContext(60_000)));
          expectOneFailed(name, lines, bad);
          const reason = (bodiesFor(name)[0] as { Reason: string }).Reason;
          if (kind === 'Create') expect(reason).toMatch(/^ValidationError: Invalid properties: /);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
    // An Update reads its stack's status first (and the fuzz stack does not exist): nothing else.
    const calls = await emu().calls();
    expect(Object.keys(calls).filter((k) => k !== 'cloudformation:DescribeStacks')).toEqual([]);
  });

  it('answers a malformed request envelope FAILED when its ResponseURL is usable, with no AWS call', async () => {
    const corruption = fc.oneof(
      fc.record({
        field: fc.constantFrom('RequestType', 'StackId', 'RequestId', 'LogicalResourceId', 'ResourceType'),
        value: fc.oneof(fc.constant(undefined), fc.constant(''), fc.integer(), fc.constant(null)),
      }),
      fc.record({
        field: fc.constant('RequestType'),
        value: fc.oneof(fc.constantFrom('Upsert', 'create', 'DELETE'), hostileString),
      }),
      fc.record({
        field: fc.constant('ResourceProperties'),
        value: fc.oneof(fc.constant('x'), fc.integer(), fc.constant(MEGABYTE)),
      }),
    );
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(corruption, async ({ field, value }) => {
        const { name, event } = validRequest('Create');
        const fields = event as Record<string, unknown>;
        if (value === undefined) delete fields[field];
        else fields[field] = value;
        const { lines } = await captureLogs(() => handler(event, fakeContext(60_000)));
        expectOneFailed(name, lines, { field, value });
        expect((bodiesFor(name)[0] as { Reason: string }).Reason).toMatch(/^Malformed request: /);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
    expect(await emu().calls()).toEqual({});
  });

  it('refuses envelope ids outside CloudFormation limits before any work: FAILED echoing them if it fits, else nothing', async () => {
    await emu().resetCalls();
    await fc.assert(
      fc.asyncProperty(
        badEnvelopeId,
        fc.constantFrom('Create' as const, 'Update' as const, 'Delete' as const),
        async ({ field, value }, kind) => {
          const { name, event } = validRequest(
            kind === 'Create' && field === 'PhysicalResourceId' ? 'Update' : kind,
          );
          (event as Record<string, unknown>)[field] = value;
          const { lines } = await captureLogs(() => handler(event, fakeContext(60_000)));
          for (const line of lines) {
            expect(Buffer.byteLength(line), 'log record too long').toBeLessThanOrEqual(MAX_LOG_LINE);
            expect(line, 'raw hidden character logged').not.toMatch(HIDDEN_RAW);
          }
          const ids = {
            StackId: event.StackId,
            RequestId: event.RequestId,
            LogicalResourceId: event.LogicalResourceId,
            ...(event.PhysicalResourceId === undefined
              ? {}
              : { PhysicalResourceId: event.PhysicalResourceId }),
          };
          const bodies = bodiesFor(name) as Record<string, unknown>[];
          // An answer carries the ids as CloudFormation sent them; when even the shortest FAILED answer
          // with them overflows 4,096 bytes, none is sent.
          const shortest = JSON.stringify({
            Status: 'FAILED',
            Reason: '[truncated]',
            PhysicalResourceId:
              event.PhysicalResourceId ??
              defaultPhysicalResourceId(event.StackId as string, event.LogicalResourceId as string),
            ...ids,
          });
          if (Buffer.byteLength(shortest) > MAX_RESPONSE_BYTES) {
            expect(bodies).toHaveLength(0);
            return;
          }
          expectOneFailed(name, lines, { field, length: value.length });
          expect(bodies[0]).toMatchObject(ids);
          expect(bodies[0]?.Reason).toMatch(new RegExp(`^Malformed request: ${field} must be `));
          expect(bodies[0]?.Reason, 'raw hidden character in the reason').not.toMatch(HIDDEN_RAW);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
    expect(await emu().calls()).toEqual({});
  });

  it('never sends a response to a forbidden ResponseURL, never logs it, and makes no AWS call', async () => {
    await emu().resetCalls();
    const before = responses.received.length;
    await fc.assert(
      fc.asyncProperty(
        forbiddenUrl,
        fc.constantFrom('Create' as const, 'Update' as const, 'Delete' as const),
        async (url, kind) => {
          const { event } = validRequest(kind);
          event.ResponseURL = url;
          const { value, lines } = await captureLogs(() => handler(event, fakeContext(60_000)));
          expect(value).toBeUndefined();
          for (const line of lines) {
            expect(line.length, 'log line too long').toBeLessThanOrEqual(MAX_LOG_LINE);
            if (typeof url === 'string' && url.length > 20) expect(line).not.toContain(url);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    expect(responses.received.length).toBe(before);
    expect(await emu().calls()).toEqual({});
  });

  it('refuses a plan with any resource missing the netkit:reapable tag, making 0 mutating calls', async () => {
    // (The emulator is reset before each test: the stack is this test's own.)
    stack = await createSeedStack(ec2);
    const resources = () => [
      stack.natGatewayId,
      stack.allocationId,
      stack.privateRouteTableId,
      stack.publicRouteTableId,
      stack.internetGatewayId,
    ];
    // Which resources lose the tag or get another value; at least one always does.
    const untag = fc.uniqueArray(
      fc.record({
        index: fc.integer({ min: 0, max: 4 }),
        value: fc.oneof(
          fc.constant(undefined),
          fc.constantFrom('false', 'TRUE', 'true ', ''),
          fc.stringMatching(/^[A-Za-z0-9 _.:/=+@-]{1,20}$/).filter((v) => v !== 'true'),
        ),
      }),
      { minLength: 1, maxLength: 5, selector: (r) => r.index },
    );
    await fc.assert(
      fc.asyncProperty(untag, async (changes) => {
        const ids = resources();
        await ec2.send(
          new CreateTagsCommand({ Resources: ids, Tags: [{ Key: 'netkit:reapable', Value: 'true' }] }),
        );
        for (const { index, value } of changes) {
          const Resources = [ids[index]!];
          if (value === undefined) {
            await ec2.send(new DeleteTagsCommand({ Resources, Tags: [{ Key: 'netkit:reapable' }] }));
          } else {
            await ec2.send(
              new CreateTagsCommand({ Resources, Tags: [{ Key: 'netkit:reapable', Value: value }] }),
            );
          }
        }
        await emu().resetCalls();
        const { name, event } = validRequest('Create');
        const { lines } = await captureLogs(() => handler(event, fakeContext(60_000)));
        expectOneFailed(name, lines, changes);
        const reason = (bodiesFor(name)[0] as { Reason: string }).Reason;
        expect(reason).toMatch(/^ValidationError: Not tagged netkit:reapable="true": /);
        expect(reason).toMatch(/Nothing was changed\.$/);
        for (const { index } of changes) expect(reason).toContain(ids[index]!);
        expect(await mutatingCalls()).toEqual({});
      }),
      { seed: SEED, numRuns: 8 },
    );
  }, 120_000);
});

// ------------------------------------------------------------------ configuration

describe('nat-reaper configuration', () => {
  const variables = ['RESPONSE_MARGIN_MS', 'NAT_POLL_MAX_MS', 'EIP_RELEASE_TIMEOUT_MS', 'REAPABLE_TAG_VALUE'];
  const hostileEnvValue = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({
      unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 512,
    }),
    fc.constantFrom(MEGABYTE, '-1', '1e9', '0x10', 'NaN', 'a'.repeat(257), '{}'),
  );

  it('refuses a bad value of any variable with a ConfigError naming it, bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(...variables), hostileEnvValue, (variable, value) => {
        let error: unknown;
        try {
          loadConfig({ [variable]: value });
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
});
