import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { fakeContext, lifecycleEvent, loadEvent, manualClock } from '@netkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { createHandler, deadlinesFor } from '../../src/create-handler.ts';
import { createSweeperHandler } from '../../src/create-sweeper-handler.ts';
import { AbandonError } from '../../src/errors.ts';
import { MANAGED_BY, TAG } from '../../src/naming.ts';
import { createSubnetCatalog } from '../../src/subnets.ts';
import type { TerminateReport } from '../../src/terminate.ts';
import {
  asMock,
  awsError,
  config,
  deps,
  ec2Mock,
  INSTANCE,
  ownEni,
  SG,
  SUBNET,
  VPC,
  validWorld,
} from '../support/fixtures.ts';
import { recordingMetrics } from '../support/metrics.ts';

beforeEach(() => {
  ec2Mock.reset();
  asMock.reset();
  asMock.on(CompleteLifecycleActionCommand).resolves({});
});

/** One terminate through the handler. */
async function terminate(t: ReturnType<typeof deps>) {
  const event = lifecycleEvent('terminate', { instanceId: INSTANCE });
  return (await createHandler(t.deps, t.config)(event, fakeContext(60_000, t.clock.now))) as TerminateReport;
}

describe('terminate lifecycle action', () => {
  it('sets DeleteOnTermination on attached ENIs of ours and deletes unattached ones, then continues', async () => {
    // Prepare
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        ownEni('eni-0keep00000000000', { attached: true, deleteOnTermination: false }),
        ownEni('eni-0done00000000000', { attached: true, deviceIndex: 2 }),
        ownEni('eni-0loose0000000000'),
      ],
    });
    ec2Mock.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const t = deps();

    // Act
    const report = await terminate(t);

    // Assess
    expect(report).toMatchObject({
      result: 'CONTINUE',
      markedForDeletion: ['eni-0keep00000000000'],
      deleted: ['eni-0loose0000000000'],
      errors: [],
      completion: 'completed',
    });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyNetworkInterfaceAttributeCommand, 1);
    expect(asMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      LifecycleActionResult: 'CONTINUE',
    });
  });

  it('still continues when the cleanup fails, so a termination is never held up', async () => {
    // Prepare
    ec2Mock.on(DescribeNetworkInterfacesCommand).rejects(awsError('UnauthorizedOperation'));
    const t = deps();

    // Act
    const report = await terminate(t);

    // Assess
    expect(report.errors).toEqual(['UnauthorizedOperation: UnauthorizedOperation']);
    expect(asMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      LifecycleActionResult: 'CONTINUE',
    });
  });
});

describe('orphan sweeper', () => {
  const tagged = (id: string, createdAt?: string) => ({
    NetworkInterfaceId: id,
    Status: 'available' as const,
    TagSet: [
      { Key: TAG.managedBy, Value: MANAGED_BY },
      ...(createdAt ? [{ Key: TAG.createdAt, Value: createdAt }] : []),
    ],
  });

  it('asks EC2 for available ENIs of ours only and deletes those past the grace period', async () => {
    // Prepare
    const clock = manualClock(Date.parse('2026-11-21T12:00:00Z'));
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        tagged('eni-0old000000000000', '2026-11-21T10:00:00Z'),
        tagged('eni-0young0000000000', '2026-11-21T11:50:00Z'),
        tagged('eni-0notime000000000'),
      ],
    });
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    const metrics = recordingMetrics();
    const sweep = createSweeperHandler(
      { ec2: deps().deps.ec2, logger: silentLogger, clock, metrics },
      { graceMs: 30 * 60_000, dryRun: false, maxDeletes: 10, deadlineMarginMs: 2_000 },
    );

    // Act
    const report = await sweep(loadEvent('scheduler/scheduled'), fakeContext(60_000, clock.now));

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeNetworkInterfacesCommand, {
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] },
        { Name: 'status', Values: ['available'] },
      ],
    });
    expect(report.deleted.map((d) => d.networkInterfaceId)).toEqual(['eni-0old000000000000']);
    expect(report.kept.map((d) => d.networkInterfaceId)).toEqual([
      'eni-0young0000000000',
      'eni-0notime000000000',
    ]);
    expect(ec2Mock).toHaveReceivedCommandTimes(DeleteNetworkInterfaceCommand, 1);
    expect(metrics.added).toEqual([
      { name: 'OrphansDeleted', value: 1 },
      { name: 'OrphanDeletesFailed', value: 0 },
    ]);
    expect(metrics.published).toBe(1);
  });

  it('keeps an ENI that got attached meanwhile and stops at SWEEP_MAX_DELETES', async () => {
    // Prepare
    const clock = manualClock(Date.parse('2026-11-21T12:00:00Z'));
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        tagged('eni-0a00000000000000', '2026-11-20T00:00:00Z'),
        tagged('eni-0b00000000000000', '2026-11-20T00:00:00Z'),
        tagged('eni-0c00000000000000', '2026-11-20T00:00:00Z'),
      ],
    });
    ec2Mock
      .on(DeleteNetworkInterfaceCommand)
      .rejectsOnce(awsError('InvalidNetworkInterface.InUse'))
      .resolves({});
    const metrics = recordingMetrics();
    const sweep = createSweeperHandler(
      { ec2: deps().deps.ec2, logger: silentLogger, clock, metrics },
      { graceMs: 30 * 60_000, dryRun: false, maxDeletes: 2, deadlineMarginMs: 2_000 },
    );

    // Act
    const report = await sweep({}, fakeContext(60_000, clock.now));

    // Assess
    expect(report.kept.map((d) => d.networkInterfaceId)).toEqual(['eni-0a00000000000000']);
    expect(report.deleted.map((d) => d.networkInterfaceId)).toEqual(['eni-0b00000000000000']);
    expect(report.truncated).toBe(true);
    expect(metrics.published).toBe(1);
  });
});

describe('subnet map validation', () => {
  it('validates once per container and names a security group from another VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [{ SubnetId: SUBNET, AvailabilityZone: 'us-east-1a', VpcId: VPC }],
    });
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: SG, VpcId: 'vpc-0other000000000' }] });
    const cfg = config({ SUBNET_MAP: JSON.stringify({ 'us-east-1a': SUBNET }) });
    const catalog = createSubnetCatalog(cfg.attachments);
    const ec2 = deps().deps.ec2;

    // Act
    const first = catalog.get(ec2);
    const second = catalog.get(ec2);

    // Assess
    await expect(first).rejects.toBeInstanceOf(AbandonError);
    await expect(second).rejects.toThrow(
      `security group ${SG} is in vpc-0other000000000, not in the subnet's VPC ${VPC}`,
    );
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeSubnetsCommand, 1);
  });

  it('does not cache a transient failure', async () => {
    // Prepare
    ec2Mock
      .on(DescribeSubnetsCommand)
      .rejectsOnce(awsError('RequestLimitExceeded'))
      .resolves({ Subnets: [{ SubnetId: SUBNET, AvailabilityZone: 'us-east-1a', VpcId: VPC }] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, VpcId: VPC }] });
    const cfg = config({ SUBNET_MAP: JSON.stringify({ 'us-east-1a': SUBNET }) });
    const catalog = createSubnetCatalog(cfg.attachments);
    const ec2 = deps().deps.ec2;
    await expect(catalog.get(ec2)).rejects.toMatchObject({ name: 'RequestLimitExceeded' });

    // Act
    const second = catalog.get(ec2);

    // Assess
    await expect(second).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeSubnetsCommand, 2);
  });
});

describe('handler', () => {
  it('rejects an invalid event without any AWS call', async () => {
    // Prepare
    const t = deps();
    const handler = createHandler(t.deps, t.config);
    const event = lifecycleEvent('launch');
    event.detail.EC2InstanceId = 'not-an-instance';

    // Act
    const result = await handler(event, fakeContext());

    // Assess
    expect(result).toEqual({ status: 'rejected', reason: expect.stringContaining('EC2InstanceId') });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(asMock.calls()).toHaveLength(0);
  });

  it('routes terminate events to the terminate action and publishes no metrics (none recorded)', async () => {
    // Prepare
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    const t = deps();
    const handler = createHandler(t.deps, t.config);

    // Act
    const result = await handler(
      lifecycleEvent('terminate', { instanceId: INSTANCE }),
      fakeContext(60_000, t.clock.now),
    );

    // Assess
    expect(result).toMatchObject({ result: 'CONTINUE', markedForDeletion: [], deleted: [] });
    expect(t.deps.metrics.published).toBe(0);
  });

  it('returns "ended" with a LifecycleActionEnded metric when the hook times out mid-launch', async () => {
    // Prepare: the first heartbeat (the live check) passes; the hook times out while the attach waits
    validWorld();
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: { NetworkInterfaceId: 'eni-0new000000000000', Status: 'available', SubnetId: SUBNET },
    });
    ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('IncorrectInstanceState'));
    ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
    asMock
      .on(RecordLifecycleActionHeartbeatCommand)
      .resolvesOnce({})
      .rejects(awsError('ValidationError', 'client', 'No active Lifecycle Action found with token x'));
    const t = deps(config({ HEARTBEAT_INTERVAL_SECONDS: '10' }));
    const slowSleep = t.clock.sleep;
    t.deps.clock = { now: t.clock.now, sleep: (_ms, signal) => slowSleep(6_000, signal) };
    const handler = createHandler(t.deps, t.config);

    // Act
    const result = await handler(
      lifecycleEvent('launch', { instanceId: INSTANCE }),
      fakeContext(120_000, t.clock.now),
    );

    // Assess
    expect(result).toMatchObject({ status: 'ended', deleted: ['eni-0new000000000000'] });
    expect(t.deps.metrics.added).toEqual([{ name: 'LifecycleActionEnded', value: 1 }]);
    expect(t.deps.metrics.dimensions).toEqual([['AutoScalingGroupName', 'my-asg']]);
    expect(t.deps.metrics.published).toBe(1);
    expect(asMock).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
  });

  it('counts LaunchesContinued and InterfacesCreated under AutoScalingGroupName and publishes once', async () => {
    // Prepare
    validWorld();
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    ec2Mock.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: { NetworkInterfaceId: 'eni-0new000000000000', Status: 'available', SubnetId: SUBNET },
    });
    ec2Mock.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'eni-attach-0new' });
    ec2Mock.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    const t = deps();

    // Act
    const result = await createHandler(t.deps, t.config)(
      lifecycleEvent('launch', { instanceId: INSTANCE }),
      fakeContext(60_000, t.clock.now),
    );

    // Assess
    expect(result).toMatchObject({ status: 'done', result: 'CONTINUE', completion: 'completed' });
    expect(t.deps.metrics.added).toEqual([
      { name: 'InterfacesCreated', value: 1 },
      { name: 'LaunchesContinued', value: 1 },
    ]);
    expect(t.deps.metrics.dimensions).toEqual([['AutoScalingGroupName', 'my-asg']]);
    expect(t.deps.metrics.published).toBe(1);
  });

  it('keeps time back from the EC2 work for cleanup and completion', () => {
    // Prepare
    const clock = manualClock();

    // Act
    const d = deadlinesFor(fakeContext(60_000, clock.now), clock, config().deadlineMarginMs);

    // Assess
    expect(d.work.remaining()).toBe(52_000);
    expect(d.finish.remaining()).toBe(59_000);
  });

  it('keeps the configured deadlineMarginMs before the Lambda deadline, at most a twentieth of a short timeout', () => {
    // Prepare
    const clock = manualClock();

    // Act
    const long = deadlinesFor(fakeContext(60_000, clock.now), clock, 2_500);
    const short = deadlinesFor(fakeContext(10_000, clock.now), clock, 2_500);

    // Assess
    expect(long.finish.remaining()).toBe(57_500);
    expect(short.finish.remaining()).toBe(9_500);
  });
});
