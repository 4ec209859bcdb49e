import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DisassociateAddressCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { ConfigError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { fakeContext, lifecycleEvent, loadEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler, type HandlerResult } from '../../src/create-handler.ts';
import { candidateOrder } from '../../src/pool.ts';
import { awsError, type FakeAddress, fakeEc2, POOL_TAGS, poolOf } from './fake-ec2.ts';

const ec2Mock = mockClient(EC2Client);
const asgMock = mockClient(AutoScalingClient);
const INSTANCE = 'i-0123456789abcdef0';
const TOKEN = '11111111-2222-3333-4444-555555555555';

function spyLogger() {
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() } satisfies Logger;
  return logger;
}

function setup(env: Record<string, string> = {}, options: { remainingMs?: number } = {}) {
  const clock = manualClock();
  const logger = spyLogger();
  const metrics = { addMetric: vi.fn(), addDimension: vi.fn(), publishStoredMetrics: vi.fn() };
  const config = loadConfig({ EIP_POOL_TAGS: JSON.stringify(POOL_TAGS), ...env });
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
    expect(result).toMatchObject({ status: 'associated', instanceId: INSTANCE, attempts: 1 });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(ec2Mock).toHaveReceivedCommandWith(AssociateAddressCommand, {
      InstanceId: INSTANCE,
      AllowReassociation: false,
      AllocationId: ec2.heldBy(INSTANCE)[0]!.allocationId,
    });
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

  it('changes nothing when the instance already holds a pool EIP (redelivered event)', async () => {
    // Prepare
    const pool = poolOf(3);
    const ec2 = fakeEc2(ec2Mock, pool);
    ec2.associate(pool[1]!.allocationId, INSTANCE);
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'already-associated', allocationId: pool[1]!.allocationId });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeAddressesCommand, 1);
    expect(ec2Mock).not.toHaveReceivedCommand(AssociateAddressCommand);
    expect(completions().map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('uses all pool tags as server-side filters and never touches EIPs with other tags', async () => {
    // Prepare
    const tags = { Application: 'prod ForwardProxy', Env: 'prod' };
    const other: FakeAddress[] = [
      { allocationId: 'eipalloc-0000000000000000a', publicIp: '198.51.100.1', tags: { Application: 'prod ForwardProxy' } },
      { allocationId: 'eipalloc-0000000000000000b', publicIp: '198.51.100.2', tags: { Env: 'prod' } },
      { allocationId: 'eipalloc-0000000000000000c', publicIp: '198.51.100.3', tags, domain: 'standard' },
    ];
    const pool = poolOf(1, tags);
    const ec2 = fakeEc2(ec2Mock, [...other, ...pool]);
    const { invoke } = setup({ EIP_POOL_TAGS: JSON.stringify(tags) });

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'associated', allocationId: pool[0]!.allocationId });
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
    ec2Mock
      .on(AssociateAddressCommand, { AllocationId: first })
      .callsFakeOnce(() => {
        ec2.associate(first, 'i-0fffffffffffffff0');
        throw awsError('Resource.AlreadyAssociated');
      });
    const { invoke } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    const second = pool.find((a) => a.allocationId !== first)!.allocationId;
    expect(result).toMatchObject({ status: 'associated', allocationId: second, attempts: 2 });
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
    expect(result).toMatchObject({ status: 'associated', attempts: 2 });
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
    expect(result).toMatchObject({ status: 'already-associated', allocationId: other, attempts: 1 });
    expect(ec2.heldBy(INSTANCE).map((a) => a.allocationId)).toEqual([other]);
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 1);
  });

  it('retries IncorrectInstanceState with backoff while the instance is still pending', async () => {
    // Prepare
    const ec2 = fakeEc2(ec2Mock, poolOf(1));
    const original = ec2Mock.commandCalls(AssociateAddressCommand).length;
    let pending = 2;
    ec2Mock.on(AssociateAddressCommand).callsFake((input: { AllocationId: string; InstanceId: string }) => {
      if (pending-- > 0) throw awsError('IncorrectInstanceState', 'The instance is not in a valid state');
      return ec2.associate(input.AllocationId, input.InstanceId);
    });
    const { invoke, clock } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(original).toBe(0);
    expect(result).toMatchObject({ status: 'associated', attempts: 1 });
    expect(ec2Mock).toHaveReceivedCommandTimes(AssociateAddressCommand, 3);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(2);
    expect(clock.sleeps[1]!).toBeGreaterThan(clock.sleeps[0]! / 2);
  });

  it('retries a throttled DescribeAddresses with backoff', async () => {
    // Prepare
    fakeEc2(ec2Mock, poolOf(1));
    const real = ec2Mock.on(DescribeAddressesCommand);
    real.rejectsOnce(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503));
    fakeEc2(ec2Mock, poolOf(1));
    ec2Mock
      .on(DescribeAddressesCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503))
      .callsFake(() => ({ Addresses: [] }));
    const addresses = poolOf(1);
    const ec2 = fakeEc2(ec2Mock, addresses);
    let throttled = 1;
    const describeFake = ec2Mock.on(DescribeAddressesCommand);
    describeFake.callsFake(() => {
      if (throttled-- > 0) throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      return {
        Addresses: addresses
          .filter((a) => a.instanceId === undefined || a.instanceId === INSTANCE)
          .map((a) => ({ AllocationId: a.allocationId, PublicIp: a.publicIp, InstanceId: a.instanceId })),
      };
    });
    const { invoke, clock } = setup();

    // Act
    const result = await invoke(launch());

    // Assess
    expect(result).toMatchObject({ status: 'associated' });
    expect(ec2.heldBy(INSTANCE)).toHaveLength(1);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(1);
  });
});
