import {
  CloudFormationClient,
  DescribeStacksCommand,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { CustomResourceResponse } from '@netkit/aws-core/custom-resource';
import { ConfigError } from '@netkit/aws-core/errors';
import { type Logger, silentLogger } from '@netkit/aws-core/observability';
import { fakeContext, loadEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { createHandler } from '../../src/create-handler.ts';
import { createWorld, ids } from '../support/fake-ec2.ts';

type Clock = ReturnType<typeof manualClock>;

/**
 * The runner's clock on the test's virtual time: its deadline timer never fires by itself (the
 * reaper's own deadline, on the same virtual time, ends a long run), only when a test calls fire().
 * Nothing in these tests depends on how fast the machine runs.
 */
function runnerClockOn(clock: Clock) {
  const timers: Array<() => void> = [];
  return {
    now: () => clock.now(),
    sleep: (_ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        timers.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
    /** The runner's deadline is reached now. */
    fire: () => {
      for (const resolve of timers.splice(0)) resolve();
    },
  };
}

/** A Lambda context whose remaining time runs on the test's virtual clock. */
const context = (remainingMs?: number) => fakeContext(remainingMs, () => clock.now());

let clock: Clock;
let runnerClock: ReturnType<typeof runnerClockOn>;
let world: ReturnType<typeof createWorld>;
let sent: CustomResourceResponse[];
/** The messages the handler logged at info level. */
let logged: string[];
const logger: Logger = {
  ...silentLogger,
  info: (message) => {
    logged.push(message);
  },
};
const config: Config = loadConfig({});
const cfnMock = mockClient(CloudFormationClient);

/** The requesting stack, as DescribeStacks shows it while CloudFormation sends the request. */
function stackIn(status: string) {
  cfnMock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'bootstrap', StackStatus: status as StackStatus, CreationTime: new Date(0) }],
  });
}

beforeEach(() => {
  stackIn('UPDATE_IN_PROGRESS');
  clock = manualClock();
  runnerClock = runnerClockOn(clock);
  world = createWorld(clock);
  sent = [];
  logged = [];
});

function handlerWith(overrides: Partial<Config> = {}) {
  return createHandler(
    {
      ec2: new EC2Client({ region: 'us-east-1' }),
      cfn: new CloudFormationClient({ region: 'us-east-1' }),
      logger,
      clock,
      runnerClock,
      send: async (_url, body) => {
        sent.push(JSON.parse(body));
      },
    },
    { ...config, ...overrides },
  );
}

function seedEvent(kind: 'create' | 'update' | 'delete' = 'create', props: Record<string, unknown> = {}) {
  const event = loadEvent(`cloudformation/${kind}`);
  event.ResourceProperties = {
    ServiceToken: event.ServiceToken,
    VpcId: ids.vpc,
    NatGatewayIds: [ids.nat],
    RouteTableIds: [ids.privateRtb, ids.publicRtb],
    InternetGatewayId: ids.igw,
    ...props,
  };
  return event;
}

const FULL_TEARDOWN_DATA = {
  DryRun: 'false',
  VpcId: ids.vpc,
  DeletedRoutes: `${ids.privateRtb} 0.0.0.0/0,${ids.publicRtb} 0.0.0.0/0,${ids.publicRtb} ::/0`,
  DeletedNatGateways: ids.nat,
  ReleasedEips: ids.alloc,
  DetachedInternetGateway: ids.igw,
  DeletedInternetGateway: ids.igw,
  AlreadyGone: '',
  UnlistedRouteTables: '',
};

describe('Create', () => {
  it('removes the routes, the NAT gateway, its EIP and the internet gateway, and answers SUCCESS with what was removed', async () => {
    // Prepare
    world.seedScenario();
    const event = seedEvent();
    // Act
    const response = await handlerWith()(event, context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: expect.stringMatching(/^NatReaper-[0-9a-f]{16}$/),
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: 'NatReaper',
      Data: FULL_TEARDOWN_DATA,
    });
    expect(response).toEqual(sent[0]);
    expect(world.nats.get(ids.nat)?.state).toBe('deleted');
    expect(world.eips.size).toBe(0);
    expect(world.igws.size).toBe(0);
    expect(world.mutations()).toEqual([
      'DeleteRoute',
      'DeleteRoute',
      'DeleteRoute',
      'DeleteNatGateway',
      'ReleaseAddress',
      'DetachInternetGateway',
      'DeleteInternetGateway',
    ]);
  });

  it('deletes only routes that target the named gateways, leaving local, peering and other NAT routes alone', async () => {
    // Prepare
    world.seedScenario();
    world.nats.set(ids.nat2, { vpc: ids.vpc, state: 'available', eni: ids.natEni2 });
    world.tables.get(ids.privateRtb)?.routes.push({
      DestinationCidrBlock: '192.168.0.0/16',
      NatGatewayId: ids.nat2,
      Origin: 'CreateRoute',
    });
    world.tables.get(ids.privateRtb)?.routes.push({
      DestinationPrefixListId: 'pl-0123456789abcdef0',
      NatGatewayId: ids.nat,
      Origin: 'CreateRoute',
    });
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.tables.get(ids.privateRtb)?.routes).toEqual([
      expect.objectContaining({ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }),
      expect.objectContaining({ DestinationCidrBlock: '172.16.0.0/16', VpcPeeringConnectionId: ids.pcx }),
      expect.objectContaining({ DestinationCidrBlock: '192.168.0.0/16', NatGatewayId: ids.nat2 }),
    ]);
    expect(world.tables.get(ids.publicRtb)?.routes).toEqual([
      expect.objectContaining({ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }),
    ]);
    expect(world.nats.get(ids.nat2)?.state).toBe('available');
  });

  it('reports route tables it was not told about that still route to a removed gateway, without touching them', async () => {
    // Prepare
    world.seedScenario();
    world.tables.set(ids.unlistedRtb, {
      vpc: ids.vpc,
      routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: ids.nat, Origin: 'CreateRoute' }],
    });
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(sent[0]?.Data?.UnlistedRouteTables).toBe(ids.unlistedRtb);
    expect(world.tables.get(ids.unlistedRtb)?.routes).toHaveLength(1);
  });

  it.each([
    [
      'a NAT gateway of another VPC',
      () => world.nats.set(ids.otherNat, { vpc: ids.otherVpc, state: 'available', eni: ids.natEni2 }),
      { NatGatewayIds: [ids.nat, ids.otherNat] },
      `NAT gateway ${ids.otherNat} is in ${ids.otherVpc}`,
    ],
    [
      'a route table of another VPC',
      () => world.tables.set(ids.otherRtb, { vpc: ids.otherVpc, routes: [] }),
      { RouteTableIds: [ids.privateRtb, ids.otherRtb] },
      `route table ${ids.otherRtb} is in ${ids.otherVpc}`,
    ],
    [
      'an internet gateway attached to another VPC',
      () => world.igws.set(ids.igw, { vpc: ids.otherVpc }),
      {},
      `internet gateway ${ids.igw} is attached to ${ids.otherVpc}`,
    ],
    [
      'an EIP the NAT let go of that another resource took',
      () => {
        world.nats.set(ids.nat, { vpc: ids.vpc, state: 'deleted', alloc: ids.alloc, eni: ids.natEni });
        world.eips.set(ids.alloc, { vpc: ids.vpc, eni: 'eni-0aaaaaaaaaaaaaaaa' });
      },
      {},
      `EIP ${ids.alloc} (from ${ids.nat}) is now associated with eni-0aaaaaaaaaaaaaaaa`,
    ],
  ])('answers FAILED and changes nothing when given %s', async (_label, prepare, props, reason) => {
    // Prepare
    world.seedScenario();
    prepare();
    // Act
    await handlerWith()(seedEvent('create', props), context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain(reason);
    expect(sent[0]?.Reason).toContain('Nothing was changed.');
    expect(world.mutations()).toEqual([]);
  });

  it('waits for the NAT gateway to be deleted by polling with bounded backoff, never a fixed sleep', async () => {
    // Prepare
    world.seedScenario();
    world.settings.natDeleteDelayMs = 30_000;
    const start = clock.now();
    // Act
    await handlerWith({ natPollMaxMs: 2_000 })(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    const waited = clock.now() - start;
    expect(waited).toBeGreaterThanOrEqual(30_000);
    expect(waited).toBeLessThanOrEqual(32_000);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(2_000);
    // Backoff: the first polls are short, later ones longer.
    expect(clock.sleeps[0]).toBeLessThanOrEqual(250);
    // It released the EIP once, after seeing the NAT deleted: no ReleaseAddress was spent failing.
    expect(world.calls.filter((c) => c === 'DescribeNatGateways').length).toBeGreaterThan(2);
    expect(world.calls.filter((c) => c === 'ReleaseAddress')).toHaveLength(1);
    expect(world.calls.indexOf('ReleaseAddress')).toBeGreaterThan(
      world.calls.lastIndexOf('DescribeNatGateways'),
    );
  });

  it('answers FAILED naming the NAT gateway when it is not deleted in the time left, without releasing or detaching', async () => {
    // Prepare
    world.seedScenario();
    world.settings.natDeleteDelayMs = 10 * 60_000;
    // Act
    await handlerWith()(seedEvent(), context(60_000));
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain(`Timed out waiting for NAT gateway ${ids.nat} to reach state deleted`);
    expect(sent[0]?.Reason).toContain('run the Update again');
    expect(world.mutations()).not.toContain('ReleaseAddress');
    expect(world.mutations()).not.toContain('DetachInternetGateway');
  });

  it('retries ReleaseAddress on the transient errors that follow a NAT deletion', async () => {
    // Prepare
    world.seedScenario();
    world.inject('ReleaseAddress', 'AuthFailure', 'InvalidIPAddress.InUse');
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.calls.filter((c) => c === 'ReleaseAddress')).toHaveLength(3);
    expect(world.eips.size).toBe(0);
  });

  it('gives up on ReleaseAddress after EIP_RELEASE_TIMEOUT_MS with a reason that names the address', async () => {
    // Prepare
    world.seedScenario();
    world.inject('ReleaseAddress', ...Array<string>(100).fill('AuthFailure'));
    const start = clock.now();
    // Act
    await handlerWith({ eipReleaseTimeoutMs: 5_000 })(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain(`ReleaseAddress ${ids.alloc} still failing`);
    expect(sent[0]?.Reason).toContain('AuthFailure');
    expect(clock.now() - start).toBeLessThan(20_000 + 5_000 + 1_000 + 2_000);
    expect(world.mutations()).not.toContain('DetachInternetGateway');
  });

  it('does not retry an unexpected ReleaseAddress error', async () => {
    // Prepare
    world.seedScenario();
    world.inject('ReleaseAddress', 'UnauthorizedOperation');
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toBe(
      `StepFailedError: ReleaseAddress ${ids.alloc} failed: UnauthorizedOperation: injected UnauthorizedOperation`,
    );
    expect(world.calls.filter((c) => c === 'ReleaseAddress')).toHaveLength(1);
  });

  it('keeps the EIP when ReleaseEips is "false" and still detaches the gateway once the NAT is gone', async () => {
    // Prepare
    world.seedScenario();
    // Act
    await handlerWith()(seedEvent('create', { ReleaseEips: 'false' }), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(sent[0]?.Data?.ReleasedEips).toBe('');
    expect(world.eips.has(ids.alloc)).toBe(true);
    expect(world.mutations()).not.toContain('ReleaseAddress');
    expect(world.igws.size).toBe(0);
  });

  it('retries DetachInternetGateway while public addresses are still mapped, then deletes it', async () => {
    // Prepare
    world.seedScenario();
    world.settings.publicIpsMappedUntil = clock.now() + 40_000; // e.g. a draining Fargate ENI
    // Act
    await handlerWith()(seedEvent(), context(120_000));
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.calls.filter((c) => c === 'DetachInternetGateway').length).toBeGreaterThan(1);
    expect(world.igws.size).toBe(0);
  });

  it('answers FAILED with advice when public addresses stay mapped for the whole time left', async () => {
    // Prepare
    world.seedScenario();
    world.settings.publicIpsMappedUntil = Number.MAX_SAFE_INTEGER;
    // Act
    await handlerWith()(seedEvent(), context(120_000));
    // Assess
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain(`DetachInternetGateway ${ids.igw}`);
    expect(sent[0]?.Reason).toContain('run the Update again later');
    expect(world.igws.get(ids.igw)?.vpc).toBe(ids.vpc);
  });

  it('finishes the job on a re-run after a partial failure, redoing nothing', async () => {
    // Prepare: the first run dies at the internet gateway.
    world.seedScenario();
    world.settings.publicIpsMappedUntil = clock.now() + 10 * 60_000;
    await handlerWith()(seedEvent(), context(60_000));
    expect(sent[0]?.Status).toBe('FAILED');
    world.settings.publicIpsMappedUntil = 0;
    world.calls.length = 0;
    // Act
    await handlerWith()(seedEvent('update'), context());
    // Assess
    expect(sent[1]?.Status).toBe('SUCCESS');
    expect(world.mutations()).toEqual(['DetachInternetGateway', 'DeleteInternetGateway']);
    expect(sent[1]?.Data).toMatchObject({
      DeletedRoutes: '',
      DeletedNatGateways: '',
      ReleasedEips: '',
      DeletedInternetGateway: ids.igw,
      AlreadyGone: `${ids.nat},${ids.alloc}`,
    });
  });

  it('answers SUCCESS with nothing more to do on a second Create after success', async () => {
    // Prepare
    world.seedScenario();
    await handlerWith()(seedEvent(), context());
    world.calls.length = 0;
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[1]?.Status).toBe('SUCCESS');
    expect(sent[1]?.PhysicalResourceId).toBe(sent[0]?.PhysicalResourceId);
    expect(world.mutations()).toEqual([]);
    expect(sent[1]?.Data).toMatchObject({
      DeletedRoutes: '',
      DeletedNatGateways: '',
      DeletedInternetGateway: '',
      AlreadyGone: `${ids.nat},${ids.alloc},${ids.igw}`,
    });
  });

  it('picks up a NAT gateway an earlier run left deleting, waits for it and releases its EIP', async () => {
    // Prepare
    world.seedScenario();
    world.nats.set(ids.nat, {
      vpc: ids.vpc,
      state: 'deleting',
      alloc: ids.alloc,
      eni: ids.natEni,
      deletedAt: clock.now() + 5_000,
    });
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.mutations()).not.toContain('DeleteNatGateway');
    expect(sent[0]?.Data?.DeletedNatGateways).toBe(ids.nat);
    expect(world.eips.size).toBe(0);
  });

  it('is race-free when the same request is delivered twice at once', async () => {
    // Prepare
    world.seedScenario();
    const handler = handlerWith();
    // Act
    await Promise.all([handler(seedEvent(), context()), handler(seedEvent(), context())]);
    // Assess
    expect(sent.map((s) => s.Status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(world.nats.get(ids.nat)?.state).toBe('deleted');
    expect(world.eips.size).toBe(0);
    expect(world.igws.size).toBe(0);
    const gone = sent.map((s) => String(s.Data?.AlreadyGone)).join(',');
    // Whatever one run removed, the other counted as already gone.
    expect(gone).toContain(ids.alloc);
    expect(gone).toContain(ids.igw);
  });

  it('counts gateways that no longer exist at all as done', async () => {
    // Prepare: nothing exists
    // Act
    await handlerWith()(seedEvent('create', { RouteTableIds: [] }), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.mutations()).toEqual([]);
    expect(sent[0]?.Data?.AlreadyGone).toBe(`${ids.nat},${ids.igw}`);
  });

  it('refuses listed route tables that do not exist, naming them, before any mutation (ADR 0088)', async () => {
    // Prepare: the stack exists, but one listed table id is a typo (the reaper never deletes tables)
    world.seedScenario();
    const typo = 'rtb-0123456789abcdeff';
    // Act
    await handlerWith()(seedEvent('create', { RouteTableIds: [ids.privateRtb, typo] }), context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toMatch(new RegExp(`RouteTableIds not found: ${typo} .*Nothing was changed\\.$`));
    expect(world.mutations()).toEqual([]);
  });
});

describe('edge cases', () => {
  it('deletes an internet gateway that is already detached without trying to detach it', async () => {
    // Prepare
    world.igws.set(ids.igw, {});
    // Act
    await handlerWith()(seedEvent('create', { NatGatewayIds: [], RouteTableIds: [] }), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.mutations()).toEqual(['DeleteInternetGateway']);
    expect(sent[0]?.Data).toMatchObject({ DetachedInternetGateway: '', DeletedInternetGateway: ids.igw });
  });

  it('keeps the response under 4096 bytes when it removes many routes', async () => {
    // Prepare: 120 routes to the NAT gateway
    world.seedScenario();
    const routes = world.tables.get(ids.privateRtb)?.routes ?? [];
    for (let i = 0; i < 120; i++) {
      routes.push({
        DestinationCidrBlock: `192.168.${i}.0/24`,
        NatGatewayId: ids.nat,
        Origin: 'CreateRoute',
      });
    }
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(Buffer.byteLength(JSON.stringify(sent[0]))).toBeLessThanOrEqual(4096);
    expect(sent[0]?.Data?.DeletedRoutes).toMatch(/ \(\+\d+ more\)$/);
    expect(world.mutations().filter((m) => m === 'DeleteRoute')).toHaveLength(123);
  });
});

describe('bounded logs', () => {
  it('keeps every log record under 8 KB when 500 unlisted route tables route to the NAT gateway', async () => {
    // Prepare
    world.seedScenario();
    for (let i = 0; i < 500; i++) {
      world.tables.set(`rtb-${i.toString(16).padStart(17, '0')}`, {
        vpc: ids.vpc,
        routes: [
          {
            DestinationCidrBlock: '0.0.0.0/0',
            NatGatewayId: ids.nat,
            Origin: 'CreateRoute',
            State: 'active',
          },
        ],
      });
    }
    const records: string[] = [];
    const record = (message: string, ...extra: Record<string, unknown>[]) =>
      void records.push(JSON.stringify({ message, ...Object.assign({}, ...extra) }));
    const handler = createHandler(
      {
        ec2: new EC2Client({ region: 'us-east-1' }),
        cfn: new CloudFormationClient({ region: 'us-east-1' }),
        logger: { debug: record, info: record, warn: record, error: record },
        clock,
        runnerClock,
        send: async (_url, body) => void sent.push(JSON.parse(body)),
      },
      config,
    );
    // Act
    await handler(seedEvent(), context());
    // Assess
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(records.some((r) => r.includes('Route tables not listed'))).toBe(true);
    for (const r of records) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(8 * 1024);
  });
});

describe('reapable tag', () => {
  it.each([
    [
      'the NAT gateway',
      () => (world.nats.get(ids.nat)!.tags = {}),
      `NAT gateway ${ids.nat} has no netkit:reapable tag`,
    ],
    [
      'its EIP',
      () => (world.eips.get(ids.alloc)!.tags = { 'netkit:reapable': 'false' }),
      `EIP ${ids.alloc} (of ${ids.nat}) has netkit:reapable="false"`,
    ],
    [
      'a route table with a route to delete',
      () => (world.tables.get(ids.publicRtb)!.tags = { Name: 'public' }),
      `route table ${ids.publicRtb} has no netkit:reapable tag`,
    ],
    [
      'the internet gateway',
      () => (world.igws.get(ids.igw)!.tags = { 'netkit:reapable': 'TRUE' }),
      `internet gateway ${ids.igw} has netkit:reapable="TRUE"`,
    ],
  ])('refuses the whole plan, with 0 mutations, when %s lacks the tag', async (_label, untag, named) => {
    // Prepare
    world.seedScenario();
    untag();
    // Act
    await handlerWith()(seedEvent(), context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toBe(
      `ValidationError: Not tagged netkit:reapable="true": ${named}. Nothing was changed.`,
    );
    expect(world.mutations()).toEqual([]);
  });

  it('names every untagged resource at once, beside foreign ones', async () => {
    // Prepare
    world.seedScenario();
    world.nats.get(ids.nat)!.tags = {};
    world.igws.get(ids.igw)!.tags = {};
    world.tables.set(ids.otherRtb, { vpc: ids.otherVpc, routes: [] });
    // Act
    await handlerWith()(
      seedEvent('create', { RouteTableIds: [ids.privateRtb, ids.publicRtb, ids.otherRtb] }),
      context(),
    );
    // Assess
    expect(sent[0]?.Reason).toBe(
      `ValidationError: Not in ${ids.vpc}: route table ${ids.otherRtb} is in ${ids.otherVpc}. ` +
        `Not tagged netkit:reapable="true": NAT gateway ${ids.nat} has no netkit:reapable tag; ` +
        `internet gateway ${ids.igw} has no netkit:reapable tag. Nothing was changed.`,
    );
    expect(world.mutations()).toEqual([]);
  });

  it('checks the value the configuration names, and ignores listed tables it will not change', async () => {
    // Prepare: everything tagged "bootstrap"; a listed extra table with no route to a reaped gateway is untagged.
    world.seedScenario();
    const tagged = [
      ...world.nats.values(),
      ...world.eips.values(),
      ...world.igws.values(),
      ...world.tables.values(),
    ];
    for (const r of tagged) r.tags = { 'netkit:reapable': 'bootstrap' };
    world.tables.set(ids.unlistedRtb, {
      vpc: ids.vpc,
      tags: {},
      routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', Origin: 'CreateRouteTable' }],
    });
    // Act
    await handlerWith({ reapableTagValue: 'bootstrap' })(
      seedEvent('create', { RouteTableIds: [ids.privateRtb, ids.publicRtb, ids.unlistedRtb] }),
      context(),
    );
    // Assess
    expect(sent[0]).toMatchObject({ Status: 'SUCCESS', Data: FULL_TEARDOWN_DATA });
    expect(world.mutations()).toEqual([
      'DeleteRoute',
      'DeleteRoute',
      'DeleteRoute',
      'DeleteNatGateway',
      'ReleaseAddress',
      'DetachInternetGateway',
      'DeleteInternetGateway',
    ]);
  });

  it('does not check the EIP when ReleaseEips is "false" (it is not changed)', async () => {
    world.seedScenario();
    world.eips.get(ids.alloc)!.tags = {};
    await handlerWith()(seedEvent('create', { ReleaseEips: 'false' }), context());
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.eips.has(ids.alloc)).toBe(true);
  });
});

describe('transient AWS errors', () => {
  it('retries throttling, 5xx and RequestLimitExceeded on every step and finishes in the invocation', async () => {
    // Prepare: more consecutive faults per call than the SDK's own 3 attempts, on each step.
    world.seedScenario();
    for (const action of [
      'DescribeNatGateways',
      'DescribeRouteTables',
      'DescribeInternetGateways',
      'DescribeAddresses',
      'DeleteRoute',
      'DeleteNatGateway',
      'ReleaseAddress',
      'DetachInternetGateway',
      'DeleteInternetGateway',
    ]) {
      world.inject(
        action,
        '5xx:InternalError',
        'RequestLimitExceeded',
        '5xx:ServiceUnavailable',
        'Throttling',
        '5xx:InternalError',
      );
    }
    // Act. The test clock adds up the concurrent inspect retries' sleeps instead of overlapping
    // them: five backoffs (250 ms base, 4 s cap, equal jitter) on each of nine steps took 90-108 s
    // of virtual time over 160 runs. 2 minutes (104 s after the 15 s answer margin) failed one run
    // in eight; 5 minutes leaves every run far from the deadline.
    await handlerWith()(seedEvent(), context(300_000));
    // Assess
    expect(sent).toEqual([expect.objectContaining({ Status: 'SUCCESS', Data: FULL_TEARDOWN_DATA })]);
    expect(world.igws.size).toBe(0);
    expect(world.calls.filter((c) => c === 'DeleteNatGateway')).toHaveLength(6);
    expect(world.calls.filter((c) => c === 'DeleteInternetGateway')).toHaveLength(6);
  });

  it.each([
    ['DescribeRouteTables', 'inspect (DescribeRouteTables) failed: InternalError'],
    ['DeleteRoute', `DeleteRoute ${ids.privateRtb} 0.0.0.0/0 failed: InternalError`],
    ['DeleteNatGateway', `DeleteNatGateway ${ids.nat} failed: InternalError`],
    ['DetachInternetGateway', `DetachInternetGateway ${ids.igw} from ${ids.vpc} failed: InternalError`],
    ['DeleteInternetGateway', `DeleteInternetGateway ${ids.igw} failed: InternalError`],
  ])('answers FAILED naming the step when %s keeps failing until the deadline', async (action, step) => {
    // Prepare
    world.seedScenario();
    world.inject(action, ...Array.from({ length: 500 }, () => '5xx:InternalError'));
    // Act
    await handlerWith()(seedEvent(), context(120_000));
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain(`StepFailedError: ${step}`);
    expect(sent[0]?.Reason).toContain('retried until the deadline');
    // Bounded backoff within the time left: it stopped before the runner's deadline answer.
    expect(sent[0]?.Reason).not.toContain('did not finish before the Lambda deadline');
    const attempts = world.calls.filter((c) => c === action).length;
    expect(attempts).toBeGreaterThan(5);
    expect(attempts).toBeLessThan(100);
  });

  it('does not retry a client error: it fails at once naming the step', async () => {
    world.seedScenario();
    world.inject('DeleteNatGateway', 'UnauthorizedOperation');
    await handlerWith()(seedEvent(), context());
    expect(sent[0]?.Reason).toBe(
      `StepFailedError: DeleteNatGateway ${ids.nat} failed: UnauthorizedOperation: injected UnauthorizedOperation`,
    );
    expect(world.calls.filter((c) => c === 'DeleteNatGateway')).toHaveLength(1);
  });
});

describe('DryRun', () => {
  it('answers SUCCESS with the plan in Data and mutates nothing', async () => {
    // Prepare
    world.seedScenario();
    // Act
    await handlerWith()(seedEvent('create', { DryRun: 'true' }), context());
    // Assess
    expect(sent[0]).toMatchObject({
      Status: 'SUCCESS',
      Data: {
        DryRun: 'true',
        VpcId: ids.vpc,
        DeletedRoutes: '',
        DeletedNatGateways: '',
        ReleasedEips: '',
        DetachedInternetGateway: '',
        DeletedInternetGateway: '',
        RoutesToDelete: `${ids.privateRtb} 0.0.0.0/0,${ids.publicRtb} 0.0.0.0/0,${ids.publicRtb} ::/0`,
        NatGatewaysToDelete: ids.nat,
        EipsToRelease: ids.alloc,
        InternetGatewayToDelete: ids.igw,
        AlreadyGone: '',
        UnlistedRouteTables: '',
      },
    });
    expect(world.mutations()).toEqual([]);
    expect(world.nats.get(ids.nat)?.state).toBe('available');
  });
});

describe('Update', () => {
  it('reaps what the new properties name and keeps the PhysicalResourceId', async () => {
    // Prepare: the old properties named no internet gateway; the new ones do.
    world.seedScenario();
    const event = seedEvent('update');
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(sent[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: event.PhysicalResourceId,
      Data: FULL_TEARDOWN_DATA,
    });
    expect(world.igws.size).toBe(0);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: event.StackId });
  });

  it('answers SUCCESS without touching anything while the stack rolls back (the old properties come back)', async () => {
    // Prepare: CloudFormation rolls an update back and sends the old properties as an Update.
    world.seedScenario();
    stackIn('UPDATE_ROLLBACK_IN_PROGRESS');
    const event = seedEvent('update');
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: event.PhysicalResourceId,
      Data: {
        ...FULL_TEARDOWN_DATA,
        DeletedRoutes: '',
        DeletedNatGateways: '',
        ReleasedEips: '',
        DetachedInternetGateway: '',
        DeletedInternetGateway: '',
      },
    });
    expect(world.mock.calls()).toHaveLength(0);
    expect(world.igws.size).toBe(1);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: event.StackId });
  });

  it('answers SUCCESS during a rollback even with properties or configuration that would fail', async () => {
    stackIn('UPDATE_ROLLBACK_IN_PROGRESS');
    await handlerWith()(seedEvent('update', { VpcId: 'not-a-vpc' }), context());
    expect(sent[0]?.Status).toBe('SUCCESS');
    expect(world.mock.calls()).toHaveLength(0);
  });

  it('answers FAILED, touching nothing, when the stack status cannot be read', async () => {
    world.seedScenario();
    cfnMock.reset();
    cfnMock.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('not authorized to perform: cloudformation:DescribeStacks'), {
        name: 'AccessDenied',
      }),
    );
    await handlerWith()(seedEvent('update'), context());
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain('cloudformation:DescribeStacks');
    expect(world.mock.calls()).toHaveLength(0);
  });

  it('makes no DescribeStacks call for Create or Delete', async () => {
    world.seedScenario();
    await handlerWith()(seedEvent('create'), context());
    await handlerWith()(seedEvent('delete'), context());
    expect(cfnMock).not.toHaveReceivedCommand(DescribeStacksCommand);
  });
});

describe('Delete', () => {
  it('answers SUCCESS without any EC2 call, even with properties that would be invalid', async () => {
    // Prepare
    world.seedScenario();
    const event = seedEvent('delete', { VpcId: 'not-a-vpc' });
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(sent).toEqual([
      {
        Status: 'SUCCESS',
        PhysicalResourceId: event.PhysicalResourceId,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'NatReaper',
      },
    ]);
    expect(world.calls).toEqual([]);
    expect(world.mock.calls()).toHaveLength(0);
  });
});

describe('bad input', () => {
  it('answers FAILED naming the property, before any AWS call', async () => {
    // Prepare
    world.seedScenario();
    const event = seedEvent('create', { ReleaseEips: 'yes', NatGatewayIds: ['nat-1'] });
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]?.Status).toBe('FAILED');
    expect(sent[0]?.Reason).toContain('NatGatewayIds: expected a list of ids');
    expect(sent[0]?.Reason).toContain('ReleaseEips: expected "true" or "false", got "yes"');
    expect(world.mock.calls()).toHaveLength(0);
  });

  it('answers FAILED to a malformed request that has a ResponseURL, and never hangs', async () => {
    // Prepare
    const event = seedEvent('update');
    delete event.PhysicalResourceId;
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      Status: 'FAILED',
      Reason: 'Malformed request: Update request is missing PhysicalResourceId',
      RequestId: event.RequestId,
    });
    expect(world.mock.calls()).toHaveLength(0);
  });

  it('sends nothing and calls no AWS API when the ResponseURL is plain http to another host', async () => {
    const event = seedEvent();
    event.ResponseURL = 'http://collector.example/cfn?X-Amz-Signature=abc';
    const response = await handlerWith()(event, context());
    expect(response).toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(world.mock.calls()).toHaveLength(0);
  });

  // Issue #27 findings 1 and 2: each of these ran the full reap before the envelope was checked.
  it.each([
    ['another https host', 'ResponseURL', 'https://example.com/cfn?X-Amz-Signature=abc'],
    [
      'a look-alike S3 host',
      'ResponseURL',
      'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example/r',
    ],
    ['the container credentials address', 'ResponseURL', 'https://169.254.170.2/v2/credentials'],
    ['a 5,000-character RequestId', 'RequestId', 'r'.repeat(5_000)],
    ['a 1 MB LogicalResourceId', 'LogicalResourceId', 'L'.repeat(1 << 20)],
    ['a RequestId with a newline', 'RequestId', 'abc\ndef'],
    ['a LogicalResourceId with U+202E', 'LogicalResourceId', 'Nat\u202EReaper'],
  ])('reaps nothing for %s: no EC2 call, at most a FAILED answer', async (_label, field, value) => {
    // Prepare
    world.seedScenario();
    const event = seedEvent() as Record<string, unknown>;
    event[field] = value;
    // Act
    await handlerWith()(event, context());
    // Assess
    expect(world.mock.calls()).toHaveLength(0);
    expect(sent.every((answer) => answer.Status === 'FAILED')).toBe(true);
    for (const answer of sent) expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThanOrEqual(4096);
  });

  it('returns without answering or calling AWS when there is no ResponseURL to answer', async () => {
    // Prepare
    const event = seedEvent();
    delete event.ResponseURL;
    // Act
    const response = await handlerWith()(event, context());
    // Assess
    expect(response).toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(world.mock.calls()).toHaveLength(0);
  });
});

describe('deadline', () => {
  it('answers FAILED once shortly before the Lambda deadline and stops before the next mutation', async () => {
    // Prepare: DescribeNatGateways hangs until released, past the runner's deadline.
    world.seedScenario();
    let release: () => void = () => {};
    const hung = new Promise<void>((r) => (release = r));
    let describing: () => void = () => {};
    const describeStarted = new Promise<void>((r) => (describing = r));
    const original = world.calls;
    world.install();
    const { DescribeNatGatewaysCommand } = await import('@aws-sdk/client-ec2');
    world.mock.on(DescribeNatGatewaysCommand).callsFake(async () => {
      original.push('DescribeNatGateways');
      describing();
      await hung;
      const tags = [{ Key: 'netkit:reapable', Value: 'true' }];
      return { NatGateways: [{ NatGatewayId: ids.nat, VpcId: ids.vpc, State: 'available', Tags: tags }] };
    });

    // Act: the runner's deadline (15 s margin, 15.05 s left) passes while the Describe hangs.
    const answered = handlerWith({ deadlineMarginMs: 15_000 })(seedEvent(), context(15_050));
    await describeStarted;
    runnerClock.fire();
    const response = await answered;
    // Then the Describe returns: the reaper plans, and must stop before its first mutation.
    release();
    await vi.waitFor(() => expect(logged).toContain('Plan'), { timeout: 30_000, interval: 10 });
    // Everything after the plan runs on the mocked client in microtasks: one macrotask drains it.
    await new Promise((r) => setImmediate(r));

    // Assess
    expect(response?.Status).toBe('FAILED');
    expect(response?.Reason).toMatch(/Create did not finish before the Lambda deadline/);
    expect(sent).toHaveLength(1);
    expect(world.calls.filter((c) => c === 'DescribeRouteTables').length).toBeGreaterThan(0);
    expect(world.mutations()).toEqual([]);
  });
});

describe('invalid configuration', () => {
  it('answers Create FAILED naming the variable, and Delete SUCCESS, without any EC2 call', async () => {
    // Prepare
    let error: unknown;
    try {
      loadConfig({ NAT_POLL_MAX_MS: 'fast' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const handler = createHandler(
      {
        ec2: new EC2Client({ region: 'us-east-1' }),
        cfn: new CloudFormationClient({ region: 'us-east-1' }),
        logger: silentLogger,
        clock,
        runnerClock,
        send: async (_url, body) => {
          sent.push(JSON.parse(body));
        },
      },
      error as ConfigError,
    );

    // Act
    await handler(seedEvent('create'), context());
    await handler(seedEvent('delete'), context());

    // Assess
    expect(sent.map((r) => r.Status)).toEqual(['FAILED', 'SUCCESS']);
    expect(sent[0]?.Reason).toContain('NAT_POLL_MAX_MS="fast"');
    expect(world.calls).toEqual([]);
  });
});
