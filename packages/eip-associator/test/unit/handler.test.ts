import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { ConfigError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { collisionDelay } from '@netkit/aws-core/retry';
import { fakeContext, lifecycleEvent, loadEvent } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler, type HandlerResult } from '../../src/create-handler.ts';
import { candidateOrder } from '../../src/pool.ts';
import {
  awsError,
  type FakeAddress,
  fakeEc2,
  POOL_TAGS,
  poolOf,
  primaryEniOf,
  virtualClock,
} from '../support/fake-ec2.ts';

const ec2Mock = mockClient(EC2Client);
const asgMock = mockClient(AutoScalingClient);
const INSTANCE = 'i-0123456789abcdef0';
const TOKEN = '11111111-2222-3333-4444-555555555555';

function spyLogger() {
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() } satisfies Logger;
  return logger;
}

function setup(env: Record<string, string> = {}, options: { remainingMs?: number } = {}) {
  const clock = virtualClock();
  const logger = spyLogger();
  const metrics = { addMetric: vi.fn(), addDimension: vi.fn(), publishStoredMetrics: vi.fn() };
  const config = loadConfig({
    EIP_POOL_TAGS: JSON.stringify(POOL_TAGS),
    AUTO_SCALING_GROUP_NAME: 'my-asg',
    ...env,
  });
  const handler = createHandler(
    {
      ec2: new EC2Client({ region: 'us-east-1' }),
      autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
      logger,
      clock,
      metrics,
      random: () => 0.5,
    },
    config,
  );
  const context = fakeContext(options.remainingMs ?? 300_000, clock.now);
  return { handler, clock, logger, metrics, context, invoke: (event: unknown) => handler(event, context) };
}

function launch(instanceId = INSTANCE, token = TOKEN) {
  return lifecycleEvent('launch', { instanceId, token });
}

function mutations() {
  return [
    ...ec2Mock.commandCalls(AssociateAddressCommand),
    ...ec2Mock.commandCalls(DisassociateAddressCommand),
    ...asgMock.commandCalls(CompleteLifecycleActionCommand),
  ];
}

function completions() {
  return asgMock.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input);
}

beforeEach(() => {
  ec2Mock.reset();
  asgMock.reset();
  asgMock.on(CompleteLifecycleActionCommand).resolves({});
  asgMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
});

describe('launch', () => {
  it('associates a free pool EIP, reads it back and completes CONTINUE with the event token', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(3));
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', instanceId: INSTANCE, attempts: 1 });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    // One interface: EC2 picks it (the primary) from the InstanceId, no interface lookup (ADR 0085).
    expect(ec2Mock).toHaveReceivedCommandWith(AssociateAddressCommand, {
      InstanceId: INSTANCE,
      AllowReassociation: false,
      AllocationId: ec2.heldBy(INSTANCE)[0]!.allocationId,
    });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeNetworkInterfacesCommand);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeAddressesCommand, 2);
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeAddressesCommand, 1, {
      Filters: [
        { Name: 'domain', Values: ['vpc'] },
        { Name: 'tag:Application', Values: ['prod ForwardProxy'] },
      ],
    });
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeAddressesCommand, 2, {
      Filters: [
        { Name: 'domain', Values: ['vpc'] },
        { Name: 'instance-id', Values: [INSTANCE] },
        { Name: 'tag:Application', Values: ['prod ForwardProxy'] },
      ],
    });
    expect(completions()).toEqual([
      {
        AutoScalingGroupName: 'my-asg',
        LifecycleHookName: 'my-lifecycle-hook',
        LifecycleActionToken: TOKEN,
        InstanceId: INSTANCE,
        LifecycleActionResult: 'CONTINUE',
      },
    ]);
  });

  it('records LaunchesContinued and the pool gauge under the group dimension, published once', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(3));
    const { invoke, metrics } = setup();

    // Act
    await invoke(launch());

    // Assess
    expect(metrics.addDimension).toHaveBeenCalledWith('AutoScalingGroupName', 'my-asg');
    expect(metrics.addMetric.mock.calls).toEqual([
      ['PoolSize', 'Count', 3],
      ['PoolFree', 'Count', 2],
      ['PoolExhausted', 'Count', 0],
      ['LaunchesContinued', 'Count', 1],
    ]);
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });

  it('changes nothing when the instance already holds a pool EIP (redelivered event)', async () => {
    // Prepare
    const pool = poolOf(3);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[1]!.allocationId, INSTANCE);
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'already-done', allocationId: pool[1]!.allocationId });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeAddressesCommand, 1);
    expect(ec2Mock).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('uses all pool tags as server-side filters and never touches EIPs with other tags', async () => {
    // Prepare
    const tags = { Application: 'prod ForwardProxy', Env: 'prod' };
    const other: FakeAddress[] = [
      {
        allocationId: 'eipalloc-0000000000000000a',
        publicIp: '198.51.100.1',
        tags: { Application: 'prod ForwardProxy' },
      },
      { allocationId: 'eipalloc-0000000000000000b', publicIp: '198.51.100.2', tags: { Env: 'prod' } },
      { allocationId: 'eipalloc-0000000000000000c', publicIp: '198.51.100.3', tags, domain: 'standard' },
    ];
    const pool = poolOf(1, tags);
    const ec2 = fakeEc2(ec2Mock, [...other, ...pool]);
    const { invoke } = setup({ EIP_POOL_TAGS: JSON.stringify(tags) });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', allocationId: pool[0]!.allocationId });
    expect(ec2.heldBy(INSTANCE).map((a) => a.allocationId)).toEqual([pool[0]!.allocationId]);
    expect(other.every((a) => a.instanceId === undefined)).toBe(true);
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeAddressesCommand, 1, {
      Filters: [
        { Name: 'domain', Values: ['vpc'] },
        { Name: 'tag:Application', Values: ['prod ForwardProxy'] },
        { Name: 'tag:Env', Values: ['prod'] },
      ],
    });
  });

  it('describes the pool again and takes another EIP when another launch won the candidate', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    const first = candidateOrder(
      pool.map((a) => ({ allocationId: a.allocationId })),
      INSTANCE,
    )[0]!.allocationId;
    // Another instance takes our first choice between our describe and our associate.
    ec2Mock.on(AssociateAddressCommand, { AllocationId: first }).callsFakeOnce(() => {
      ec2.associate(first, 'i-0fffffffffffffff0');
      throw awsError('Resource.AlreadyAssociated');
    });
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    const second = pool.find((a) => a.allocationId !== first)!.allocationId;
    expect(result).toMatchObject({ status: 'done', allocationId: second, attempts: 2 });
    expect(ec2.heldBy(INSTANCE).map((a) => a.allocationId)).toEqual([second]);
    expect(ec2.heldBy('i-0fffffffffffffff0').map((a) => a.allocationId)).toEqual([first]);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeAddressesCommand, 3);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('tries another EIP when the read-back does not show the association', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    const first = candidateOrder(pool, INSTANCE)[0]!.allocationId;
    // The association "succeeds" but the address ends up elsewhere (eventual consistency).
    ec2Mock.on(AssociateAddressCommand, { AllocationId: first }).callsFakeOnce(() => {
      ec2.associate(first, 'i-0eeeeeeeeeeeeeee0');
      return { AssociationId: 'eipassoc-lost' };
    });
    const { invoke, logger } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', attempts: 2 });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(ec2.heldBy(INSTANCE)[0]!.allocationId).not.toBe(first);
    expect(logger.warn).toHaveBeenCalledWith(
      'Association was not confirmed by the read-back; trying another EIP',
      expect.objectContaining({ allocationId: first }),
    );
  });

  it('accepts the EIP a concurrent duplicate delivery associated instead of fighting over the instance', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    const first = candidateOrder(pool, INSTANCE)[0]!.allocationId;
    const other = pool.find((a) => a.allocationId !== first)!.allocationId;
    // Our association lands, then the duplicate's association replaces it on the primary IP.
    ec2Mock.on(AssociateAddressCommand, { AllocationId: first }).callsFakeOnce(() => {
      ec2.associate(first, INSTANCE);
      ec2.associate(other, INSTANCE);
      return {};
    });
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'already-done', allocationId: other, attempts: 1 });
    expect(ec2.heldBy(INSTANCE).map((a) => a.allocationId)).toEqual([other]);
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 1);
  });

  it('retries IncorrectInstanceState with backoff while the instance is still pending', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    ec2.failNext(
      'AssociateAddress',
      awsError('IncorrectInstanceState', 'The instance is not in a valid state'),
      2,
    );
    const { invoke, clock } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', attempts: 1 });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 3);
    expect(clock.sleeps).toHaveLength(2);
    expect(clock.sleeps[1]!).toBeGreaterThan(clock.sleeps[0]!);
  });

  it('retries a throttled DescribeAddresses with backoff', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    ec2.failNext('DescribeAddresses', awsError('RequestLimitExceeded', 'Request limit exceeded.', 503), 2);
    const { invoke, clock } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done' });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(clock.sleeps).toHaveLength(2);
  });
});

describe('composed hooks (another hook attaches a second interface)', () => {
  it('associates to the primary interface by NetworkInterfaceId once EC2 refuses InstanceId for several interfaces', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(2));
    ec2.attachSecondary(INSTANCE, 'eni-0secondary000000');
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', instanceId: INSTANCE });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    const inputs = ec2Mock.commandCalls(AssociateAddressCommand).map((c) => c.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toMatchObject({ InstanceId: INSTANCE, AllowReassociation: false });
    expect(inputs[1]).toMatchObject({
      NetworkInterfaceId: primaryEniOf(INSTANCE),
      AllowReassociation: false,
    });
    expect(inputs[1]).not.toHaveProperty('InstanceId');
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeNetworkInterfacesCommand, {
      Filters: [{ Name: 'attachment.instance-id', Values: [INSTANCE] }],
    });
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('describes again when EC2 does not list the new instance interfaces yet, then associates', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(2));
    ec2.attachSecondary(INSTANCE, 'eni-0secondary000000');
    ec2.hideInterfaces(INSTANCE, 2);
    const { invoke, clock } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '60' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', instanceId: INSTANCE, attempts: 2 });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeNetworkInterfacesCommand, 3);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(2);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('abandons with a clear reason when the interface is never listed before the deadline', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(2));
    ec2.attachSecondary(INSTANCE, 'eni-0secondary000000');
    ec2.hideInterfaces(INSTANCE, Number.MAX_SAFE_INTEGER);
    const { invoke } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '30' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned' });
    expect((result as { reason: string }).reason).toContain('primary network interface');
    // Only the one refused by InstanceId: nothing is associated to an interface it cannot name.
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 1);
    expect(ec2.heldBy(INSTANCE)).toHaveLength(0);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
  });
});

describe('empty pool', () => {
  it('waits with heartbeats, then completes ABANDON at ASSOCIATE_TIMEOUT_SECONDS, logging pool size and free', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[0]!.allocationId, 'i-0aaaaaaaaaaaaaaa0');
    ec2.associate(pool[1]!.allocationId, 'i-0bbbbbbbbbbbbbbb0');
    const { invoke, clock, logger, metrics } = setup({
      ASSOCIATE_TIMEOUT_SECONDS: '120',
      HEARTBEAT_INTERVAL_SECONDS: '30',
    });
    const start = clock.now();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', pool: { size: 2, free: 0, exhausted: true } });
    expect(ec2Mock).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(ec2.heldBy(INSTANCE)).toHaveLength(0);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(completions()[0]).toMatchObject({ LifecycleActionToken: TOKEN, InstanceId: INSTANCE });
    // One heartbeat per 30 s of waiting, with the event's token.
    const beats = asgMock.commandCalls(RecordLifecycleActionHeartbeatCommand).map((c) => c.args[0].input);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats.length).toBeLessThanOrEqual(4);
    expect(beats[0]).toMatchObject({ LifecycleActionToken: TOKEN, LifecycleHookName: 'my-lifecycle-hook' });
    expect(ec2Mock.commandCalls(DescribeAddressesCommand).length).toBeGreaterThan(2);
    expect(clock.now() - start).toBe(120_000);
    expect(logger.error).toHaveBeenCalledWith(
      'Could not give the instance a pool EIP; completing ABANDON',
      expect.objectContaining({ poolSize: 2, poolFree: 0, instanceId: INSTANCE }),
    );
    expect(metrics.addMetric).toHaveBeenCalledWith('PoolExhausted', 'Count', 1);
    expect(metrics.addMetric).toHaveBeenCalledWith('PoolSize', 'Count', 2);
    expect(metrics.addMetric).toHaveBeenCalledWith('PoolFree', 'Count', 0);
    expect(metrics.addMetric).toHaveBeenCalledWith('LaunchesAbandoned', 'Count', 1);
    expect(metrics.addDimension).toHaveBeenCalledWith('AutoScalingGroupName', expect.any(String));
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });

  it('stops waiting at once when a heartbeat finds the hook timed out: no association, no completion, a metric', async () => {
    // Prepare: every EIP is taken, and the hook times out while the launch waits
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[0]!.allocationId, 'i-0aaaaaaaaaaaaaaa0');
    ec2.associate(pool[1]!.allocationId, 'i-0bbbbbbbbbbbbbbb0');
    const gone = new Error('No active Lifecycle Action found with token x');
    gone.name = 'ValidationError';
    // The liveness check before the first wait passes; the next heartbeat finds the action over.
    asgMock.on(RecordLifecycleActionHeartbeatCommand).resolvesOnce({}).rejects(gone);
    const { invoke, clock, logger, metrics } = setup({
      ASSOCIATE_TIMEOUT_SECONDS: '600',
      HEARTBEAT_INTERVAL_SECONDS: '30',
    });
    const start = clock.now();

    // Act
    const result = await invoke(launch());

    // Assess: it gave up at the first failed heartbeat, long before its 600 s deadline
    expect(result).toMatchObject({ status: 'ended', instanceId: INSTANCE });
    expect(asgMock).toHaveReceivedCommandTimes(RecordLifecycleActionHeartbeatCommand, 2);
    expect(asgMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(clock.now() - start).toBeLessThan(120_000);
    expect(metrics.addMetric).toHaveBeenCalledWith('LifecycleActionEnded', 'Count', 1);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining('ended while working'),
      expect.objectContaining({ instanceId: INSTANCE }),
    );
  });

  it('abandons an empty-but-absent pool (no EIP carries the tags) the same way', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(2, { Application: 'something else' }));
    const { invoke } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '5' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', pool: { size: 0, free: 0 } });
    expect(ec2Mock).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
  });

  it('takes an EIP as soon as one is released while waiting', async () => {
    // Prepare
    const pool = poolOf(1);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[0]!.allocationId, 'i-0aaaaaaaaaaaaaaa0');
    let describes = 0;
    const release = () => {
      delete pool[0]!.instanceId;
      delete pool[0]!.associationId;
    };
    ec2Mock
      .on(DescribeAddressesCommand)
      .callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
        if (++describes === 3) release();
        const byInstance = input.Filters?.find((f) => f.Name === 'instance-id')?.Values?.[0];
        return {
          Addresses: pool
            .filter((a) => byInstance === undefined || a.instanceId === byInstance)
            .map((a) => ({
              AllocationId: a.allocationId,
              PublicIp: a.publicIp,
              InstanceId: a.instanceId,
              AssociationId: a.associationId,
            })),
        };
      });
    const { invoke } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '300' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({
      status: 'done',
      allocationId: pool[0]!.allocationId,
      pool: { exhausted: true },
    });
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('defaults the deadline to the Lambda remaining time minus DEADLINE_MARGIN_SECONDS', async () => {
    // Prepare
    const pool = poolOf(1);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[0]!.allocationId, 'i-0aaaaaaaaaaaaaaa0');
    const { invoke, clock } = setup({ DEADLINE_MARGIN_SECONDS: '20' }, { remainingMs: 60_000 });
    const start = clock.now();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned' });
    expect(clock.now() - start).toBe(40_000);
  });
});

describe('failures', () => {
  it('completes ABANDON when EC2 keeps throttling until the deadline', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    ec2.failNext('DescribeAddresses', awsError('RequestLimitExceeded', 'Request limit exceeded.', 503), 1000);
    const { invoke } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '30' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned' });
    expect((result as { reason: string }).reason).toMatch(/RequestLimitExceeded/);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
  });

  it('throws an unexpected EC2 error (e.g. missing permission) without completing, so Lambda retries', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    ec2.failNext('AssociateAddress', awsError('UnauthorizedOperation', 'You are not authorized'));
    const { invoke } = setup();

    // Act
    const act = invoke(launch());

    // Assess
    await expect(act).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    expect(asgMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
  });

  it('treats "No active Lifecycle Action found" on completion as already done', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(1));
    const gone = new Error('No active Lifecycle Action found with token x');
    gone.name = 'ValidationError';
    asgMock.on(CompleteLifecycleActionCommand).rejects(gone);
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', completion: 'already-completed' });
  });

  it('retries a throttled CompleteLifecycleAction', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(1));
    const throttled = new Error('Rate exceeded');
    throttled.name = 'Throttling';
    asgMock.on(CompleteLifecycleActionCommand).rejectsOnce(throttled).resolves({});
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', completion: 'completed' });
    expect(asgMock).toHaveReceivedCommandTimes(CompleteLifecycleActionCommand, 2);
  });
});

describe('warm pools', () => {
  it('completes CONTINUE without an EIP when the instance goes to the warm pool', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(1));
    const { invoke } = setup();

    // Act
    const result = await invoke(loadEvent('autoscaling/launch-to-warm-pool'));

    // Assess
    expect(result).toMatchObject({ status: 'skipped' });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('associates when the instance enters the group from the warm pool', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    const { invoke } = setup();

    // Act
    const result = await invoke(loadEvent('autoscaling/launch-from-warm-pool'));

    // Assess
    expect(result).toMatchObject({ status: 'done', instanceId: 'i-1234567890abcdef0' });
    expect(ec2.heldBy('i-1234567890abcdef0')).toHaveLength(1);
  });

  it('associates for legacy events without Origin/Destination', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    const { invoke } = setup();

    // Act
    const result = await invoke(loadEvent('autoscaling/launch-legacy'));

    // Assess
    expect(result).toMatchObject({ status: 'done' });
    expect(ec2.heldBy('i-1234567890abcdef0')).toHaveLength(1);
  });
});

describe('terminate', () => {
  it('disassociates the instance pool EIP early and completes CONTINUE; a redelivery changes nothing', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[1]!.allocationId, INSTANCE);
    const event = lifecycleEvent('terminate', { instanceId: INSTANCE, token: TOKEN });
    const { invoke, metrics } = setup();

    // Act
    const first = await invoke(event);
    const second = await invoke(event);

    // Assess
    expect(first).toMatchObject({
      status: 'done',
      released: [pool[1]!.allocationId],
      pool: { size: 2, free: 2 },
    });
    expect(second).toMatchObject({ status: 'done', released: [] });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(0);
    expect(ec2Mock).toHaveReceivedCommandTimes(DisassociateAddressCommand, 1);
    expect(completions()).toEqual([
      expect.objectContaining({ LifecycleHookName: 'my-terminate-hook', LifecycleActionResult: 'CONTINUE' }),
      expect.objectContaining({ LifecycleHookName: 'my-terminate-hook', LifecycleActionResult: 'CONTINUE' }),
    ]);
    expect(metrics.addMetric).toHaveBeenCalledWith('PoolFree', 'Count', 2);
    expect(metrics.addMetric).not.toHaveBeenCalledWith('LaunchesAbandoned', 'Count', expect.anything());
  });

  it('tolerates an association that disappeared between describe and disassociate', async () => {
    // Prepare
    const pool = poolOf(1);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[0]!.allocationId, INSTANCE);
    ec2.failNext('DisassociateAddress', awsError('InvalidAssociationID.NotFound'));
    const { invoke } = setup();

    // Act
    const result = await invoke(lifecycleEvent('terminate', { instanceId: INSTANCE }));

    // Assess
    expect(result).toMatchObject({ status: 'done', released: [] });
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });
});

describe('invalid input', () => {
  const cases: [
    string,
    (e: Record<string, unknown> & { detail: Record<string, unknown> }) => unknown,
    RegExp,
  ][] = [
    ['a wrong source', (e) => ({ ...e, source: 'aws.ec2' }), /source/],
    [
      'a wrong detail-type',
      (e) => ({ ...e, 'detail-type': 'EC2 Instance Launch Successful' }),
      /detail-type/,
    ],
    [
      'a missing instance id',
      (e) => ({ ...e, detail: { ...e.detail, EC2InstanceId: undefined } }),
      /EC2InstanceId/,
    ],
    [
      'a malformed instance id',
      (e) => ({ ...e, detail: { ...e.detail, EC2InstanceId: 'web-1' } }),
      /EC2InstanceId/,
    ],
    [
      'a missing token',
      (e) => ({ ...e, detail: { ...e.detail, LifecycleActionToken: '' } }),
      /LifecycleActionToken/,
    ],
    ['no detail', (e) => ({ ...e, detail: null }), /detail/],
    ['not an object', () => 'launch', /object/],
  ];
  it.each(
    cases,
  )('rejects an event with %s: logged once, no AWS call, no throw', async (_, mutate, reason) => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(1));
    const { invoke, logger } = setup();

    // Act
    const result = (await invoke(mutate(launch()))) as HandlerResult;

    // Assess
    expect(result).toMatchObject({ status: 'rejected', reason: expect.stringMatching(reason) });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(asgMock.calls()).toHaveLength(0);
    expect(mutations()).toHaveLength(0);
    expect(logger.error).toHaveBeenCalledTimes(1);
  });
});

describe('configuration', () => {
  it.each([
    ['unset', {}, /EIP_POOL_TAGS=\(unset\)/],
    ['not JSON', { EIP_POOL_TAGS: 'Application=prod' }, /EIP_POOL_TAGS.*not valid JSON/],
    ['an empty object', { EIP_POOL_TAGS: '{}' }, /EIP_POOL_TAGS.*with 1 to 50 entries/],
    [
      'more tags than an EIP can carry (50, EC2 tag restrictions)',
      {
        EIP_POOL_TAGS: JSON.stringify(
          Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
        ),
      },
      /EIP_POOL_TAGS.*with 1 to 50 entries; got 51/,
    ],
    ['a non-string value', { EIP_POOL_TAGS: '{"Application":1}' }, /EIP_POOL_TAGS.*bad entry "Application"/],
    [
      'a reserved aws: key',
      { EIP_POOL_TAGS: '{"aws:cloudformation:stack-name":"x"}' },
      /EIP_POOL_TAGS.*aws:/,
    ],
    ['an array', { EIP_POOL_TAGS: '["Application"]' }, /EIP_POOL_TAGS/],
  ])('rejects EIP_POOL_TAGS that is %s, naming the variable', (_, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it.each([
    ['ASSOCIATE_TIMEOUT_SECONDS', '0'],
    ['ASSOCIATE_TIMEOUT_SECONDS', '10m'],
    ['DEADLINE_MARGIN_SECONDS', '0'],
    ['HEARTBEAT_INTERVAL_SECONDS', '5'],
  ])('rejects %s=%s', (variable, value) => {
    expect(() =>
      loadConfig({ EIP_POOL_TAGS: '{"a":"b"}', AUTO_SCALING_GROUP_NAME: 'my-asg', [variable]: value }),
    ).toThrow(new RegExp(`${variable}="${value}": expected an integer`));
  });

  it('parses a valid configuration with defaults', () => {
    expect(
      loadConfig({
        EIP_POOL_TAGS: '{"Application":"prod ForwardProxy","Env":""}',
        AUTO_SCALING_GROUP_NAME: 'my-asg',
      }),
    ).toEqual({
      scope: { groupName: 'my-asg' },
      poolTags: { Application: 'prod ForwardProxy', Env: '' },
      associateTimeoutMs: undefined,
      deadlineMarginMs: 10_000,
      heartbeatIntervalMs: 60_000,
    });
  });

  it('converts every duration from the seconds of the environment to milliseconds, once', () => {
    expect(
      loadConfig({
        EIP_POOL_TAGS: '{"Pool":"a"}',
        AUTO_SCALING_GROUP_NAME: 'my-asg',
        LIFECYCLE_HOOK_NAMES: 'launch,terminate',
        ASSOCIATE_TIMEOUT_SECONDS: '120',
        DEADLINE_MARGIN_SECONDS: '15',
        HEARTBEAT_INTERVAL_SECONDS: '30',
      }),
    ).toEqual({
      scope: { groupName: 'my-asg', hookNames: ['launch', 'terminate'] },
      poolTags: { Pool: 'a' },
      associateTimeoutMs: 120_000,
      deadlineMarginMs: 15_000,
      heartbeatIntervalMs: 30_000,
    });
  });

  it('fails at module init, before any event, when the bundle entry sees an invalid EIP_POOL_TAGS', async () => {
    vi.stubEnv('EIP_POOL_TAGS', 'not json');
    vi.resetModules();
    await expect(import('../../src/handler.ts')).rejects.toThrow(/EIP_POOL_TAGS/);
    vi.unstubAllEnvs();
  });
});

describe('candidate order', () => {
  const free = poolOf(50).map((a) => ({ allocationId: a.allocationId }));
  const ids = Array.from(
    { length: 50 },
    (_, i) => `i-${(0x0a000000 + i * 7919).toString(16).padStart(17, '0')}`,
  );

  it('is the same for the same instance (a redelivery picks what the original picked)', () => {
    expect(candidateOrder(free, ids[0]!)).toEqual(candidateOrder([...free].reverse(), ids[0]!));
  });

  it('is a permutation of the free list', () => {
    expect(new Set(candidateOrder(free, ids[3]!).map((a) => a.allocationId))).toEqual(
      new Set(free.map((a) => a.allocationId)),
    );
  });

  it('spreads a burst: 50 instances start at many different EIPs, not all at the first', () => {
    const firsts = new Set(ids.map((id) => candidateOrder(free, id)[0]!.allocationId));
    // Uniform random choice gives about 50 * (1 - 1/e) = 32 distinct first picks.
    expect(firsts.size).toBeGreaterThanOrEqual(25);
  });
});

describe('pool parsing', () => {
  it('treats empty InstanceId / AssociationId fields as a free address', async () => {
    // Prepare: some EC2 implementations send empty elements for a free address.
    ec2Mock
      .on(DescribeAddressesCommand)
      .resolvesOnce({
        Addresses: [
          {
            AllocationId: 'eipalloc-0000000000000000a',
            PublicIp: '198.51.100.1',
            InstanceId: '',
            AssociationId: '',
            NetworkInterfaceId: '',
          },
          {
            AllocationId: 'eipalloc-0000000000000000b',
            PublicIp: '198.51.100.2',
            InstanceId: 'i-0aaaaaaaaaaaaaaa0',
            AssociationId: 'eipassoc-1',
          },
        ],
      })
      .resolves({
        Addresses: [
          { AllocationId: 'eipalloc-0000000000000000a', InstanceId: INSTANCE, AssociationId: 'eipassoc-2' },
        ],
      });
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-2' });
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        { NetworkInterfaceId: 'eni-0p', Attachment: { InstanceId: INSTANCE, DeviceIndex: 0 } },
      ],
    });
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({
      status: 'done',
      allocationId: 'eipalloc-0000000000000000a',
      pool: { size: 2, free: 0 },
    });
    expect(ec2Mock).toHaveReceivedCommandWith(AssociateAddressCommand, {
      AllocationId: 'eipalloc-0000000000000000a',
    });
  });
});

describe('eventual consistency of the read-back', () => {
  it('reports done when the read-back missed its own association and the next describe shows it', async () => {
    // Prepare: DescribeAddresses by instance id does not show the new association the first time
    const ec2 = fakeEc2(ec2Mock, poolOf(2));
    let readBacks = 0;
    ec2Mock.on(DescribeAddressesCommand).callsFake((input: { Filters?: { Name?: string }[] }) => {
      const byInstance = input.Filters?.some((f) => f.Name === 'instance-id');
      if (byInstance && ++readBacks === 1) return { Addresses: [] };
      return {
        Addresses: ec2.addresses
          .filter((a) => !byInstance || a.instanceId === INSTANCE)
          .map((a) => ({
            AllocationId: a.allocationId,
            InstanceId: a.instanceId,
            AssociationId: a.associationId,
          })),
      };
    });
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', instanceId: INSTANCE });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 1);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });
});

describe('collision jitter', () => {
  it('waits a random delay that grows with collisions and is capped at 2 s', () => {
    expect(collisionDelay(1, () => 0)).toBe(0);
    expect(collisionDelay(1, () => 0.999)).toBeLessThanOrEqual(250);
    expect(collisionDelay(2, () => 0.999)).toBeGreaterThan(250);
    expect(collisionDelay(10, () => 0.999)).toBeLessThanOrEqual(2_000);
  });

  it('sleeps between losing a candidate and describing the pool again', async () => {
    // Prepare
    const pool = poolOf(2);
    const ec2 = fakeEc2(ec2Mock, pool);
    const first = candidateOrder(pool, INSTANCE)[0]!.allocationId;
    ec2.associate(first, 'i-0fffffffffffffff0');
    // Our describe still shows `first` free (stale), so the associate collides.
    ec2Mock
      .on(DescribeAddressesCommand)
      .resolvesOnce({ Addresses: pool.map((a) => ({ AllocationId: a.allocationId, PublicIp: a.publicIp })) })
      .callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
        const byInstance = input.Filters?.find((f) => f.Name === 'instance-id')?.Values?.[0];
        return {
          Addresses: pool
            .filter((a) => byInstance === undefined || a.instanceId === byInstance)
            .map((a) => ({
              AllocationId: a.allocationId,
              InstanceId: a.instanceId,
              AssociationId: a.associationId,
            })),
        };
      });
    const { invoke, clock } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'done', attempts: 2 });
    expect(clock.sleeps).toEqual([collisionDelay(1, () => 0.5)]);
  });
});

describe('cleanup', () => {
  it('undoes an association whose read-back never answered, after completing ABANDON', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    let describes = 0;
    const original = ec2Mock.on(DescribeAddressesCommand);
    original.callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
      describes++;
      if (input.Filters?.some((f) => f.Name === 'instance-id')) {
        throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      return {
        Addresses: ec2.addresses.map((a) => ({
          AllocationId: a.allocationId,
          InstanceId: a.instanceId,
          AssociationId: a.associationId,
        })),
      };
    });
    const { invoke, logger } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '20' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(describes).toBeGreaterThan(1);
    expect(result).toMatchObject({ status: 'abandoned' });
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandTimes(DisassociateAddressCommand, 1);
    expect(ec2.heldBy(INSTANCE)).toHaveLength(0);
    expect(logger.warn).toHaveBeenCalledWith(
      'Undid the unconfirmed association after completing ABANDON',
      expect.anything(),
    );
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    const [complete] = asgMock.commandCalls(CompleteLifecycleActionCommand);
    const [undo] = ec2Mock.commandCalls(DisassociateAddressCommand);
    expect(complete!.calledBefore(undo!)).toBe(true);
  });

  it('completes ABANDON before undoing, and keeps the association when a concurrent delivery completed first', async () => {
    // Prepare: the read-back keeps failing; meanwhile the twin delivery saw the association and
    // completed CONTINUE, so this delivery's ABANDON answers "No active Lifecycle Action found".
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    ec2Mock.on(DescribeAddressesCommand).callsFake((input: { Filters?: { Name?: string }[] }) => {
      if (input.Filters?.some((f) => f.Name === 'instance-id')) {
        throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      return {
        Addresses: ec2.addresses.map((a) => ({
          AllocationId: a.allocationId,
          InstanceId: a.instanceId,
          AssociationId: a.associationId,
        })),
      };
    });
    const gone = new Error('No active Lifecycle Action found with token x');
    gone.name = 'ValidationError';
    asgMock.on(CompleteLifecycleActionCommand).rejects(gone);
    const { invoke } = setup({ ASSOCIATE_TIMEOUT_SECONDS: '20' });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', completion: 'already-completed' });
    expect(ec2Mock).not.toHaveReceivedCommand(DisassociateAddressCommand);
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
  });
});

describe('late redelivery', () => {
  it('does not associate when the lifecycle action is no longer active (abandoned or timed out)', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(2));
    const gone = new Error('No active Lifecycle Action found with token x');
    gone.name = 'ValidationError';
    asgMock.on(RecordLifecycleActionHeartbeatCommand).rejects(gone);
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess: the liveness check comes before any EC2 call
    expect(result).toMatchObject({ status: 'ended', instanceId: INSTANCE });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(ec2.heldBy(INSTANCE)).toHaveLength(0);
    expect(asgMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
  });

  it('checks the action once, before its first association, with the event token', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(2));
    const { invoke } = setup();

    // Act
    await invoke(launch());

    // Assess
    expect(asgMock).toHaveReceivedCommandTimes(RecordLifecycleActionHeartbeatCommand, 1);
    expect(asgMock).toHaveReceivedCommandWith(RecordLifecycleActionHeartbeatCommand, {
      LifecycleActionToken: TOKEN,
      InstanceId: INSTANCE,
    });
  });
});
