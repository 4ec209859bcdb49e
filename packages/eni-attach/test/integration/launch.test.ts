import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { toTagList } from '@netkit/aws-core/tags';
import { useEmulator } from '@netkit/local-aws/vitest';
import { describe, expect, it } from 'vitest';
import { interfacesOf, ownInterfaces, runInstances, twoVpcWorld, type World } from '../../demo/world.ts';
import type { LaunchReport } from '../../src/handle-launch.ts';
import { MANAGED_BY, TAG } from '../../src/naming.ts';
import { context, emulatorHandler, GROUP, HOOK, launchEvent } from '../support/harness.ts';

const emu = useEmulator();

function singleEnv(world: World, extra: Record<string, string> = {}) {
  return {
    SUBNET_MAP: JSON.stringify(world.targetSubnets),
    SECURITY_GROUP_IDS: world.targetSecurityGroupId,
    ...extra,
  };
}

async function setup(perAz = 10) {
  const { ec2 } = await emulatorHandler(emu(), {
    SUBNET_MAP: '{"us-east-1a":"subnet-00000000"}',
    SECURITY_GROUP_IDS: 'sg-00000000',
  });
  const world = await twoVpcWorld(ec2, emu().region);
  const instances: string[] = [];
  for (const az of world.zones) instances.push(...(await runInstances(ec2, world.sourceSubnets[az]!, perAz)));
  return { world, instances };
}

describe('launch lifecycle action against the emulator (two VPCs, two AZs)', () => {
  it('gives each of 20 concurrently launching instances exactly one ENI in its own AZ’s subnet of the other VPC', async () => {
    // Prepare
    const { world, instances } = await setup(10);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const events = await Promise.all(instances.map((id) => launchEvent(emu(), id)));
    await emu().resetCalls();

    // Act
    const reports = (await Promise.all(events.map((e) => handler(e, context())))) as LaunchReport[];

    // Assess
    expect(reports.map((r) => r.result)).toEqual(instances.map(() => 'CONTINUE'));
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instances }));
    const azOf = new Map(
      (described.Reservations ?? []).flatMap((r) =>
        (r.Instances ?? []).map((i) => [i.InstanceId!, i.Placement!.AvailabilityZone!] as const),
      ),
    );
    for (const id of instances) {
      const enis = await interfacesOf(ec2, id);
      const extra = enis.filter((e) => e.Attachment?.DeviceIndex !== 0);
      expect(extra).toHaveLength(1);
      const eni = extra[0]!;
      expect(eni.Attachment?.DeviceIndex).toBe(1);
      expect(eni.Attachment?.DeleteOnTermination).toBe(true);
      expect(eni.SubnetId).toBe(world.targetSubnets[azOf.get(id)!]);
      expect(eni.VpcId).toBe(world.targetVpcId);
      expect(eni.Groups?.map((g) => g.GroupId)).toEqual([world.targetSecurityGroupId]);
      expect(eni.TagSet).toEqual(
        expect.arrayContaining([
          { Key: TAG.managedBy, Value: MANAGED_BY },
          { Key: TAG.instanceId, Value: id },
          { Key: TAG.group, Value: GROUP },
        ]),
      );
    }
    expect(await ownInterfaces(ec2)).toHaveLength(20);
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(instances.map(() => 'CONTINUE'));
    const calls = await emu().calls();
    expect(calls['ec2:CreateNetworkInterface']).toBe(20);
    expect(calls['ec2:AttachNetworkInterface']).toBe(20);
    // Subnet map validation is paid once per container, not per launch.
    expect(calls['ec2:DescribeSubnets']).toBe(1);
  });

  it('serves every instance exactly once when EC2 throttles the burst', async () => {
    // Prepare: AWS refill rates, buckets shrunk to a tenth so 20 launches meet throttling
    const { world, instances } = await setup(10);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const events = await Promise.all(instances.map((id) => launchEvent(emu(), id)));
    await emu().configure({ throttle: { scale: 1, burst: 0.1 } });

    // Act
    const reports = (await Promise.all(events.map((e) => handler(e, context())))) as LaunchReport[];

    // Assess
    const throttled = await emu().throttled();
    await emu().configure({ throttle: false });
    expect(Object.values(throttled).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(reports.every((r) => r.result === 'CONTINUE')).toBe(true);
    const own = await ownInterfaces(ec2);
    expect(own).toHaveLength(20);
    expect(new Set(own.map((e) => e.Attachment?.InstanceId))).toEqual(new Set(instances));
    expect(own.every((e) => e.Attachment?.DeleteOnTermination === true)).toBe(true);
  });

  it('changes nothing when every event is delivered a second time: no extra create, one ENI each', async () => {
    // Prepare
    const { world, instances } = await setup(10);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const events = await Promise.all(instances.map((id) => launchEvent(emu(), id)));
    await Promise.all(events.map((e) => handler(e, context())));
    const before = (await ownInterfaces(ec2)).map((e) => e.NetworkInterfaceId).sort();
    await emu().resetCalls();

    // Act
    const again = await Promise.all(events.map((e) => handler(e, context())));

    // Assess: the actions were completed, so the heartbeat before any change finds them inactive.
    const calls = await emu().calls();
    expect(again.every((r) => r.status === 'ended')).toBe(true);
    const after = (await ownInterfaces(ec2)).map((e) => e.NetworkInterfaceId).sort();
    expect(after).toEqual(before);
    expect(calls['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
    expect(calls['ec2:AttachNetworkInterface'] ?? 0).toBe(0);
    // A redelivery after completion costs one heartbeat and no EC2 call.
    expect(calls['ec2:DescribeNetworkInterfaces'] ?? 0).toBe(0);
    expect(calls['autoscaling:RecordLifecycleActionHeartbeat']).toBe(events.length);
    expect((await emu().lifecycle.completions()).length).toBe(20);
  });

  it('leaves exactly one ENI and no orphan when the same event is delivered twice at the same time', async () => {
    // Prepare
    const { world, instances } = await setup(5);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const events = await Promise.all(instances.map((id) => launchEvent(emu(), id)));

    // Act: every event twice, all at once
    const reports = (await Promise.all(
      [...events, ...events].map((e) => handler(e, context())),
    )) as LaunchReport[];

    // Assess
    expect(reports.every((r) => r.result === 'CONTINUE')).toBe(true);
    const own = await ownInterfaces(ec2);
    expect(own).toHaveLength(instances.length);
    expect(own.every((e) => e.Status === 'in-use' && e.Attachment?.DeleteOnTermination === true)).toBe(true);
    for (const id of instances) {
      expect((await interfacesOf(ec2, id)).filter((e) => e.Attachment?.DeviceIndex === 1)).toHaveLength(1);
    }
  });

  it('attaches the ENI an interrupted earlier delivery created instead of creating another', async () => {
    // Prepare: an earlier invocation created the ENI and timed out before attaching it
    const { world, instances } = await setup(1);
    const id = instances[0]!;
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const leftover = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: world.targetSubnets[world.zones[0]],
        Groups: [world.targetSecurityGroupId],
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: toTagList({ [TAG.managedBy]: MANAGED_BY, [TAG.instanceId]: id, [TAG.deviceIndex]: '1' }),
          },
        ],
      }),
    );
    const event = await launchEvent(emu(), id);
    await emu().resetCalls();

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('CONTINUE');
    expect(report.interfaces).toEqual([
      expect.objectContaining({
        networkInterfaceId: leftover.NetworkInterface!.NetworkInterfaceId,
        source: 'reused',
      }),
    ]);
    expect((await emu().calls())['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
    expect(await ownInterfaces(ec2)).toHaveLength(1);
  });

  it('deletes the ENI it created and abandons when the attach fails for good', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const id = instances[0]!;
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const event = await launchEvent(emu(), id);
    await emu().injectFault({
      service: 'ec2',
      action: 'AttachNetworkInterface',
      code: 'AttachmentLimitExceeded',
      message: 'Interface count 4 exceeds the limit for m5.large',
    });

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toMatch(/AttachmentLimitExceeded/);
    expect(report.deleted).toHaveLength(1);
    expect(await ownInterfaces(ec2)).toEqual([]);
    expect(await emu().lifecycle.completions()).toEqual([
      expect.objectContaining({ instanceId: id, result: 'ABANDON', hookName: HOOK }),
    ]);
  });

  it('abandons without leaving an ENI when the instance type has no room for another interface', async () => {
    // Prepare: a t3.nano (2 interfaces) that already has a second one; ask for device index 2
    const { world } = await setup(0);
    const { ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const [id] = await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, 1, 't3.nano');
    const other = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: world.sourceSubnets[world.zones[0]] }),
    );
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: id,
        NetworkInterfaceId: other.NetworkInterface!.NetworkInterfaceId,
        DeviceIndex: 1,
      }),
    );
    const { handler } = await emulatorHandler(emu(), singleEnv(world, { DEVICE_INDEX: '2' }));
    const event = await launchEvent(emu(), id!);

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toMatch(/AttachmentLimitExceeded/);
    expect(await ownInterfaces(ec2)).toEqual([]);
    expect((await emu().lifecycle.completions())[0]?.result).toBe('ABANDON');
  });

  it('abandons before creating anything when the instance’s AZ is not in SUBNET_MAP', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const onlyB = { [world.zones[1]]: world.targetSubnets[world.zones[1]]! };
    const { handler, ec2 } = await emulatorHandler(
      emu(),
      singleEnv(world, { SUBNET_MAP: JSON.stringify(onlyB) }),
    );
    const event = await launchEvent(emu(), instances[0]!);
    await emu().resetCalls();

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toContain(`Availability Zone ${world.zones[0]}`);
    expect((await emu().calls())['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
    expect(await ownInterfaces(ec2)).toEqual([]);
  });

  it('names the bad SUBNET_MAP entry and abandons when a subnet is not in the AZ of its key', async () => {
    // Prepare: both AZ keys point at the subnet of zone a
    const { world, instances } = await setup(1);
    const swapped = {
      [world.zones[0]]: world.targetSubnets[world.zones[1]]!,
      [world.zones[1]]: world.targetSubnets[world.zones[1]]!,
    };
    const { handler } = await emulatorHandler(
      emu(),
      singleEnv(world, { SUBNET_MAP: JSON.stringify(swapped) }),
    );
    const event = await launchEvent(emu(), instances[0]!);
    await emu().resetCalls();

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toContain(
      `SUBNET_MAP entry "${world.zones[0]}": "${world.targetSubnets[world.zones[1]]}": subnet is in ${world.zones[1]}`,
    );
    expect((await emu().calls())['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
  });

  it('abandons a launch whose instance is already terminated without creating an ENI', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const event = await launchEvent(emu(), instances[0]!);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: instances }));
    await emu().resetCalls();

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('ABANDON');
    expect(report.reason).toMatch(/terminated|shutting-down/);
    expect((await emu().calls())['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
  });

  it('retries an attach refused while the instance is still pending and then succeeds', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const event = await launchEvent(emu(), instances[0]!);
    await emu().injectFault({
      service: 'ec2',
      action: 'AttachNetworkInterface',
      times: 2,
      code: 'IncorrectInstanceState',
    });

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('CONTINUE');
    expect((await emu().calls())['ec2:AttachNetworkInterface']).toBe(3);
    expect(await ownInterfaces(ec2)).toHaveLength(1);
  });

  it('attaches one ENI per ATTACHMENTS entry at its device index (multus)', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const { ec2 } = await emulatorHandler(emu(), singleEnv(world));
    const attachments = [
      { deviceIndex: 2, subnetMap: world.sourceSubnets, securityGroupIds: [world.sourceSecurityGroupId] },
      {
        deviceIndex: 1,
        subnetMap: world.targetSubnets,
        securityGroupIds: [world.targetSecurityGroupId],
        sourceDestCheck: false,
      },
    ];
    const { handler } = await emulatorHandler(emu(), { ATTACHMENTS: JSON.stringify(attachments) });
    const event = await launchEvent(emu(), instances[0]!);

    // Act
    const report = (await handler(event, context())) as LaunchReport;

    // Assess
    expect(report.result).toBe('CONTINUE');
    const enis = (await interfacesOf(ec2, instances[0]!)).filter((e) => e.Attachment?.DeviceIndex !== 0);
    const byIndex = new Map(enis.map((e) => [e.Attachment!.DeviceIndex!, e]));
    expect([...byIndex.keys()].sort()).toEqual([1, 2]);
    expect(byIndex.get(1)?.SubnetId).toBe(world.targetSubnets[world.zones[0]]);
    expect(byIndex.get(1)?.SourceDestCheck).toBe(false);
    expect(byIndex.get(2)?.SubnetId).toBe(world.sourceSubnets[world.zones[0]]);
    expect(enis.every((e) => e.Attachment?.DeleteOnTermination === true)).toBe(true);
  });

  it('rejects an invalid event without any AWS call', async () => {
    // Prepare
    const { world } = await setup(0);
    const { handler } = await emulatorHandler(emu(), singleEnv(world));
    await emu().resetCalls();

    // Act
    const result = await handler({ source: 'aws.ec2', detail: {} }, context());

    // Assess
    expect(result).toEqual({ status: 'rejected', reason: expect.stringContaining('source') });
    expect(await emu().calls()).toEqual({});
  });

  it('deletes the ENI with the instance once DeleteOnTermination is set', async () => {
    // Prepare
    const { world, instances } = await setup(1);
    const { handler, ec2 } = await emulatorHandler(emu(), singleEnv(world));
    await handler(await launchEvent(emu(), instances[0]!), context());
    expect(await ownInterfaces(ec2)).toHaveLength(1);

    // Act
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: instances }));

    // Assess
    const left = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] }],
      }),
    );
    expect(left.NetworkInterfaces).toEqual([]);
  });
});
