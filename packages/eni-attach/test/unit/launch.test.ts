import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterfaceStatus,
} from '@aws-sdk/client-ec2';
import { DeadlineExceededError, RaceUnsettledError } from '@netkit/aws-core/errors';
import type { CompletionOutcome } from '@netkit/aws-core/lifecycle';
import { parseLifecycleEvent } from '@netkit/aws-core/lifecycle';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../src/create-handler.ts';
import type { LaunchReport } from '../../src/handle-launch.ts';
import { eniDescription, MANAGED_BY, TAG } from '../../src/naming.ts';
import {
  asMock,
  awsError,
  config,
  deps,
  ec2Mock,
  INSTANCE,
  OTHER_SUBNET,
  ownEni,
  SG,
  SUBNET,
  validWorld,
} from '../support/fixtures.ts';

/** One launch through the handler (the runner checks liveness with one heartbeat first); the 'ended' outcome is asserted by its status. */
async function launch(t: ReturnType<typeof deps>) {
  const event = lifecycleEvent('launch', { instanceId: INSTANCE });
  const report = await createHandler(t.deps, t.config)(event, fakeContext(60_000, t.deps.clock.now));
  return report as LaunchReport & { completion?: CompletionOutcome };
}
/** Heartbeats the keeper recorded: every RecordLifecycleActionHeartbeat but the runner's liveness check. */
const keeperBeats = () => asMock.commandCalls(RecordLifecycleActionHeartbeatCommand).length - 1;
const action = () => parseLifecycleEvent(lifecycleEvent('launch', { instanceId: INSTANCE }));
const NEW = 'eni-0new000000000000';
// Not in the SDK's enum, but what EC2 reports for an interface still being created.
const PENDING = 'pending' as NetworkInterfaceStatus;

beforeEach(() => {
  ec2Mock.reset();
  asMock.reset();
});

/** The launching instance as DescribeInstances lists it, with only its primary interface. */
function validWorldInstance() {
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            State: { Name: 'running' as const },
            Placement: { AvailabilityZone: 'us-east-1a' },
            NetworkInterfaces: [
              { NetworkInterfaceId: 'eni-0primary000000000', Attachment: { DeviceIndex: 0 } },
            ],
          },
        ],
      },
    ],
  };
}

function freshLaunch() {
  validWorld();
  ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
  ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
    NetworkInterface: { NetworkInterfaceId: NEW, Status: 'available', SubnetId: SUBNET },
  });
  ec2Mock.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'eni-attach-0new' });
  ec2Mock.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
}

describe('launch lifecycle action', () => {
  it('creates the ENI in the AZ’s subnet, attaches it, sets DeleteOnTermination and continues', async () => {
    // Prepare
    freshLaunch();
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({
      status: 'done',
      result: 'CONTINUE',
      interfaces: [{ deviceIndex: 1, networkInterfaceId: NEW, subnetId: SUBNET, source: 'created' }],
      deleted: [],
      completion: 'completed',
    });
    const create = ec2Mock.commandCalls(CreateNetworkInterfaceCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ SubnetId: SUBNET, Groups: [SG] });
    expect(create.ClientToken).toMatch(/^eni-attach-[0-9a-f]{48}$/);
    expect(create.TagSpecifications?.[0]?.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG.managedBy, Value: MANAGED_BY },
        { Key: TAG.instanceId, Value: INSTANCE },
        { Key: TAG.deviceIndex, Value: '1' },
        { Key: TAG.group, Value: 'my-asg' },
        { Key: TAG.createdAt, Value: '2026-11-21T10:00:00Z' },
      ]),
    );
    expect(ec2Mock).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, {
      InstanceId: INSTANCE,
      NetworkInterfaceId: NEW,
      DeviceIndex: 1,
    });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: NEW,
      Attachment: { AttachmentId: 'eni-attach-0new', DeleteOnTermination: true },
    });
    expect(asMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      LifecycleActionResult: 'CONTINUE',
      InstanceId: INSTANCE,
    });
  });

  it('makes five EC2 calls on a fresh launch after the per-container subnet validation', async () => {
    // Prepare
    freshLaunch();
    const t = deps();
    await launch(t);
    ec2Mock.resetHistory();

    // Act: a second launch in the same container
    await launch(t);

    // Assess
    expect(ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual([
      'DescribeNetworkInterfacesCommand',
      'DescribeInstancesCommand',
      'CreateNetworkInterfaceCommand',
      'AttachNetworkInterfaceCommand',
      'ModifyNetworkInterfaceAttributeCommand',
    ]);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeSubnetsCommand);
  });

  it('only completes on redelivery when the ENI is already attached with DeleteOnTermination', async () => {
    // Prepare
    validWorld();
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [ownEni('eni-0old000000000000', { attached: true })] });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.status).toBe('already-done');
    expect(report.interfaces).toEqual([expect.objectContaining({ source: 'existing' })]);
    expect(ec2Mock.calls()).toHaveLength(1);
    expect(asMock).toHaveReceivedCommandTimes(CompleteLifecycleActionCommand, 1);
  });

  it('sets DeleteOnTermination on redelivery when an earlier delivery stopped right after attaching', async () => {
    // Prepare
    validWorld();
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [ownEni('eni-0old000000000000', { attached: true, deleteOnTermination: false })],
    });
    ec2Mock.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    const t = deps();

    // Act
    await launch(t);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: 'eni-0old000000000000',
      Attachment: { AttachmentId: 'eni-attach-0old000000000000', DeleteOnTermination: true },
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('attaches an unattached ENI left by an interrupted delivery instead of creating one', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [ownEni('eni-0left00000000000')] });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.interfaces).toEqual([
      expect.objectContaining({ networkInterfaceId: 'eni-0left00000000000', source: 'reused' }),
    ]);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('does not reuse a leftover ENI in another subnet than the AZ’s mapped one', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [ownEni('eni-0left00000000000', { subnetId: OTHER_SUBNET })] });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.interfaces[0]?.source).toBe('created');
  });

  it('waits for a pending ENI to become available before attaching', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: { NetworkInterfaceId: NEW, Status: PENDING, SubnetId: SUBNET },
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: [NEW] })
      .rejectsOnce(awsError('InvalidNetworkInterfaceID.NotFound'))
      .resolvesOnce({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: PENDING }] })
      .resolves({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: 'available' }] });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('CONTINUE');
    expect(
      ec2Mock.commandCalls(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: [NEW] }),
    ).toHaveLength(3);
    expect(t.clock.sleeps.length).toBe(2);
  });

  it('turns source/destination checking off when SOURCE_DEST_CHECK=false', async () => {
    // Prepare
    freshLaunch();
    const t = deps(config({ SOURCE_DEST_CHECK: 'false' }));

    // Act
    await launch(t);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: NEW,
      SourceDestCheck: { Value: false },
    });
  });

  it('fixes source/destination checking on a reused ENI, and leaves it alone when it already matches', async () => {
    // Prepare
    freshLaunch();
    const wrong = { ...ownEni('eni-0left00000000000'), SourceDestCheck: true };
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [wrong] });
    const t = deps(config({ SOURCE_DEST_CHECK: 'false' }));

    // Act
    await launch(t);
    const fixedFirst = ec2Mock.commandCalls(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: 'eni-0left00000000000',
      SourceDestCheck: { Value: false },
    }).length;
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [{ ...wrong, SourceDestCheck: false }] });
    ec2Mock.resetHistory();
    await launch(t);

    // Assess
    expect(fixedFirst).toBe(1);
    expect(ec2Mock).not.toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      SourceDestCheck: { Value: false },
    });
  });

  it('records heartbeats while waiting for a slow ENI to become available', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: { NetworkInterfaceId: NEW, Status: PENDING, SubnetId: SUBNET },
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: [NEW] })
      .resolvesOnce({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: PENDING }] })
      .resolvesOnce({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: PENDING }] })
      .resolvesOnce({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: PENDING }] })
      .resolves({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: 'available' }] });
    asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));
    const sleep = t.clock.sleep;
    t.deps.clock = { now: t.clock.now, sleep: (_ms, signal) => sleep(7_000, signal) };

    // Act
    const report = await launch(t);

    // Assess: waits start at 0, 7 and 14 s; the one at 14 s is due a beat
    expect(report.result).toBe('CONTINUE');
    expect(keeperBeats()).toBe(1);
  });

  it('retries throttling and a pending instance with backoff, without heartbeats while waits are short', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(awsError('RequestLimitExceeded'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .resolves({ AttachmentId: 'eni-attach-0new' });
    asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('CONTINUE');
    expect(ec2Mock).toHaveReceivedCommandTimes(AttachNetworkInterfaceCommand, 5);
    // awsCall's backoff: 250 ms base, equal jitter (random 0.5)
    expect(t.clock.sleeps).toEqual([188, 375, 750, 1500]);
    expect(keeperBeats()).toBe(0);
  });

  it('records a lifecycle heartbeat when a wait outlasts the heartbeat interval', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .resolves({ AttachmentId: 'eni-attach-0new' });
    asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));
    const slowSleep = t.clock.sleep;
    t.deps.clock = { now: t.clock.now, sleep: (_ms, signal) => slowSleep(6_000, signal) };

    // Act
    await launch(t);

    // Assess: waits of 6 s each start at 0, 6 and 12 s; only the third is 10 s past the start
    expect(keeperBeats()).toBe(1);
    expect(asMock).toHaveReceivedCommandWith(RecordLifecycleActionHeartbeatCommand, {
      InstanceId: INSTANCE,
      LifecycleHookName: 'my-lifecycle-hook',
    });
  });

  it('stops, deletes the ENI it created and completes nothing when a heartbeat finds the action ended', async () => {
    // Prepare: the attach waits past the heartbeat interval, and the hook has timed out meanwhile
    freshLaunch();
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('IncorrectInstanceState'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    asMock
      .on(RecordLifecycleActionHeartbeatCommand)
      .resolvesOnce({})
      .rejects(awsError('ValidationError', 'client', 'No active Lifecycle Action found with token x'));
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));
    const slowSleep = t.clock.sleep;
    t.deps.clock = { now: t.clock.now, sleep: (_ms, signal) => slowSleep(6_000, signal) };

    // Act
    const report = await launch(t);

    // Assess: a non-retried outcome; the created, unattached ENI is gone; no completion is attempted
    expect(report).toMatchObject({ status: 'ended', instanceId: INSTANCE, deleted: [NEW], interfaces: [] });
    expect('reason' in report && report.reason).toMatch(/no longer active/);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteNetworkInterfaceCommand, { NetworkInterfaceId: NEW });
    expect(keeperBeats()).toBe(1);
    expect(asMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
    // It stopped at the heartbeat: no further attach attempts after it.
    const attaches = ec2Mock.commandCalls(AttachNetworkInterfaceCommand).length;
    expect(attaches).toBeLessThanOrEqual(3);
  });

  it('keeps retrying through a heartbeat failure that is not "No active Lifecycle Action found"', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .rejectsOnce(awsError('IncorrectInstanceState'))
      .resolves({ AttachmentId: 'eni-attach-0new' });
    asMock
      .on(RecordLifecycleActionHeartbeatCommand)
      .resolvesOnce({}) // the runner's liveness check
      .rejects(awsError('Throttling', 'client', 'Rate exceeded'));
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));
    const slowSleep = t.clock.sleep;
    t.deps.clock = { now: t.clock.now, sleep: (_ms, signal) => slowSleep(6_000, signal) };

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({ result: 'CONTINUE', completion: 'completed' });
  });

  it('deletes the ENI it created and abandons when the attach fails for good', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('AttachmentLimitExceeded'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({ status: 'abandoned', result: 'ABANDON', deleted: [NEW], interfaces: [] });
    expect(report.reason).toContain('AttachmentLimitExceeded');
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteNetworkInterfaceCommand, { NetworkInterfaceId: NEW });
    expect(asMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      LifecycleActionResult: 'ABANDON',
    });
  });

  it('keeps the ENI for the retry and rethrows (for redelivery) when the instance stays pending past the deadline', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('IncorrectInstanceState'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const outcome = launch(t);

    // Assess
    await expect(outcome).rejects.toMatchObject({ name: 'IncorrectInstanceState' });
    // The retry reuses the same ClientToken: deleting the ENI would hand it a dead one.
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
    expect(asMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
  });

  it('keeps the concurrent winner’s ENI and deletes its own when the device index was taken meanwhile', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [] })
      .resolves({ NetworkInterfaces: [ownEni('eni-0winner000000000', { attached: true }), ownEni(NEW)] });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidParameterValue'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({
      result: 'CONTINUE',
      interfaces: [{ networkInterfaceId: 'eni-0winner000000000', source: 'concurrent' }],
      deleted: [NEW],
    });
  });

  it('does not delete a reused ENI that a concurrent delivery attached first', async () => {
    // Prepare: both deliveries picked the same leftover ENI
    freshLaunch();
    const left = 'eni-0left00000000000';
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [ownEni(left)] })
      .resolves({ NetworkInterfaces: [ownEni(left, { attached: true })] });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidNetworkInterface.InUse'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({ result: 'CONTINUE', deleted: [] });
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
  });

  it('waits for Describe to list the concurrent winner’s attachment instead of abandoning (eventual consistency)', async () => {
    // Prepare: the twin delivery attached the same ENI (one ClientToken); Describe lags twice
    freshLaunch();
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [] })
      .resolvesOnce({ NetworkInterfaces: [ownEni(NEW)] })
      .resolvesOnce({ NetworkInterfaces: [ownEni(NEW)] })
      .resolves({ NetworkInterfaces: [ownEni(NEW, { attached: true })] });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidNetworkInterface.InUse'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({
      status: 'already-done',
      result: 'CONTINUE',
      interfaces: [{ networkInterfaceId: NEW, source: 'concurrent' }],
      deleted: [],
    });
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
  });

  it('fails as transient (redelivered, never ABANDON) when the winner of a lost race never shows', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [ownEni(NEW)] });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidNetworkInterface.InUse'));
    const t = deps();

    // Act
    const outcome = launch(t);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(RaceUnsettledError);
    expect(asMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
  });

  it('takes an interface with its own description at the index for a concurrent delivery’s, though its own listing predates that create', async () => {
    // Prepare: the twin created and attached NEW between this delivery's two reads
    freshLaunch();
    validWorld({
      extra: [{ id: NEW, index: 1, description: eniDescription(INSTANCE, 1, action().groupName) }],
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [] })
      .resolves({ NetworkInterfaces: [ownEni(NEW, { attached: true })] });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidNetworkInterface.InUse'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({
      result: 'CONTINUE',
      interfaces: [{ networkInterfaceId: NEW, source: 'concurrent' }],
    });
  });

  it('lets a refused attach stand (ABANDON) when the instance shows a foreign interface at the index, instead of waiting for a race', async () => {
    // Prepare: the index was free at the first read; then an interface eni-attach did not create took it
    freshLaunch();
    const foreign = 'eni-0foreign00000000';
    const first = validWorldInstance();
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(first)
      .resolves({
        Reservations: [
          {
            Instances: [
              {
                ...first.Reservations[0]!.Instances[0]!,
                NetworkInterfaces: [
                  { NetworkInterfaceId: 'eni-0primary000000000', Attachment: { DeviceIndex: 0 } },
                  { NetworkInterfaceId: foreign, Attachment: { DeviceIndex: 1 } },
                ],
              },
            ],
          },
        ],
      });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('InvalidParameterValue'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report).toMatchObject({ result: 'ABANDON', deleted: [NEW] });
    expect(report.reason).toContain('InvalidParameterValue');
  });

  it('abandons without creating when the instance’s AZ is not mapped', async () => {
    // Prepare
    freshLaunch();
    validWorld({ az: 'us-east-1c' });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toBe(
      `Availability Zone us-east-1c of instance ${INSTANCE} is not in SUBNET_MAP (mapped: us-east-1a, us-east-1b)`,
    );
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('abandons when another interface already sits at the device index', async () => {
    // Prepare
    freshLaunch();
    validWorld({ extra: [{ id: 'eni-0foreign00000000', index: 1 }] });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toContain('eni-0foreign00000000, which eni-attach did not create');
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it.each([
    [
      'terminated',
      { Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'terminated' as const } }] }] },
    ],
    ['missing', { Reservations: [] }],
  ])('abandons without creating when the instance is %s', async (_what, described) => {
    // Prepare
    freshLaunch();
    ec2Mock.on(DescribeInstancesCommand).resolves(described);
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toMatch(/terminated|does not exist/);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('waits a bounded time for an instance EC2 does not see yet, then abandons', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toBe(`instance ${INSTANCE} does not exist (terminated?)`);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand).length).toBeGreaterThan(1);
    expect(t.clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(15_000);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('abandons with the bad entry named when the subnet map does not match EC2', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [{ SubnetId: SUBNET, AvailabilityZone: 'us-east-1b', VpcId: 'vpc-0aaaaaaaaaaaaaaa1' }],
    });
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toContain(
      `SUBNET_MAP entry "us-east-1a": "${SUBNET}": subnet is in us-east-1b, not us-east-1a`,
    );
    expect(report.reason).toContain(
      `SUBNET_MAP entry "us-east-1b": "${OTHER_SUBNET}": subnet does not exist`,
    );
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });

  it('abandons with a clear reason when a retried create meets different parameters', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(CreateNetworkInterfaceCommand).rejects(awsError('IdempotentParameterMismatch'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toContain('different parameters');
  });

  it('creates one ENI per ATTACHMENTS entry in device index order', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(CreateNetworkInterfaceCommand)
      .resolvesOnce({ NetworkInterface: { NetworkInterfaceId: 'eni-0one000000000000', Status: 'available' } })
      .resolvesOnce({
        NetworkInterface: { NetworkInterfaceId: 'eni-0two000000000000', Status: 'available' },
      });
    const t = deps(
      config({
        SUBNET_MAP: '',
        SECURITY_GROUP_IDS: '',
        ATTACHMENTS: JSON.stringify([
          { deviceIndex: 2, subnetMap: { 'us-east-1a': OTHER_SUBNET }, securityGroupIds: [SG] },
          { deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
        ]),
      }),
    );
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [
        { SubnetId: SUBNET, AvailabilityZone: 'us-east-1a', VpcId: 'vpc-0aaaaaaaaaaaaaaa1' },
        { SubnetId: OTHER_SUBNET, AvailabilityZone: 'us-east-1a', VpcId: 'vpc-0aaaaaaaaaaaaaaa1' },
      ],
    });

    // Act
    const report = await launch(t);

    // Assess
    expect(report.interfaces.map((i) => [i.deviceIndex, i.networkInterfaceId])).toEqual([
      [1, 'eni-0one000000000000'],
      [2, 'eni-0two000000000000'],
    ]);
    expect(
      ec2Mock.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.DeviceIndex),
    ).toEqual([1, 2]);
  });

  it('deletes every unattached ENI of the invocation and abandons when a later attachment fails', async () => {
    // Prepare
    freshLaunch();
    ec2Mock
      .on(CreateNetworkInterfaceCommand)
      .resolvesOnce({ NetworkInterface: { NetworkInterfaceId: 'eni-0one000000000000', Status: 'available' } })
      .resolvesOnce({
        NetworkInterface: { NetworkInterfaceId: 'eni-0two000000000000', Status: 'available' },
      });
    ec2Mock
      .on(AttachNetworkInterfaceCommand)
      .resolvesOnce({ AttachmentId: 'eni-attach-1' })
      .rejects(awsError('AttachmentLimitExceeded'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps(
      config({
        SUBNET_MAP: '',
        SECURITY_GROUP_IDS: '',
        ATTACHMENTS: JSON.stringify([
          { deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
          { deviceIndex: 2, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
        ]),
      }),
    );

    // Act
    const report = await launch(t);

    // Assess: the attached one has DeleteOnTermination and goes with the abandoned instance
    expect(report).toMatchObject({ result: 'ABANDON', deleted: ['eni-0two000000000000'] });
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: 'eni-0one000000000000',
      Attachment: { AttachmentId: 'eni-attach-1', DeleteOnTermination: true },
    });
  });

  it('treats an already completed lifecycle action as done', async () => {
    // Prepare
    freshLaunch();
    asMock
      .on(CompleteLifecycleActionCommand)
      .rejects(awsError('ValidationError', 'client', 'No active Lifecycle Action found with token x'));
    const t = deps();

    // Act
    const report = await launch(t);

    // Assess
    expect(report.completion).toBe('already-completed');
  });

  it('rethrows a deadline error without deleting the created ENI, so the redelivery reuses it', async () => {
    // Prepare
    freshLaunch();
    ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: { NetworkInterfaceId: NEW, Status: PENDING },
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: [NEW] })
      .resolves({ NetworkInterfaces: [{ NetworkInterfaceId: NEW, Status: PENDING }] });
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const outcome = launch(t);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
  });
});
