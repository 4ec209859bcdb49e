import {
  CreateNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { toTagList } from '@netkit/aws-core/tags';
import { useEmulator, useFunction } from '@netkit/local-aws/vitest';
import { describe, expect, it } from 'vitest';
import { ownInterfaces, runInstances, twoVpcWorld } from '../../demo/world.ts';
import { createSweeperHandler } from '../../src/create-sweeper-handler.ts';
import type { LaunchReport } from '../../src/handle-launch.ts';
import { MANAGED_BY, TAG } from '../../src/naming.ts';
import type { TerminateReport } from '../../src/terminate.ts';
import { context, emulatorHandler, GROUP, HOOK, launchEvent, TEMPLATE } from '../support/harness.ts';
import { recordingMetrics } from '../support/metrics.ts';

const emu = useEmulator();
// The sweeper under its own template policy (the parameters do not change its statements).
const sweeper = useFunction(emu, {
  template: TEMPLATE,
  logicalId: 'SweeperFunction',
  parameters: {
    AutoScalingGroupName: GROUP,
    LaunchHookName: HOOK,
    SubnetIds: ['subnet-0'],
    SecurityGroupIds: ['sg-0'],
  },
});
const sweeperEc2 = () => new EC2Client({ ...sweeper().clientConfig, maxAttempts: 1 });

async function launched() {
  const ec2 = new EC2Client(emu().clientConfig);
  const world = await twoVpcWorld(ec2, emu().region);
  const [id] = await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, 1);
  const env = {
    SUBNET_MAP: JSON.stringify(world.targetSubnets),
    SECURITY_GROUP_IDS: world.targetSecurityGroupId,
  };
  const { handler } = await emulatorHandler(emu(), env);
  const report = (await handler(await launchEvent(emu(), id!), context())) as LaunchReport;
  return { ec2, world, id: id!, handler, eniId: report.interfaces[0]!.networkInterfaceId };
}

describe('terminate lifecycle action and orphan sweeper against the emulator', () => {
  it('restores DeleteOnTermination on the terminate hook so EC2 deletes the ENI with the instance', async () => {
    // Prepare: someone turned DeleteOnTermination off after launch
    const { ec2, id, handler, eniId } = await launched();
    const [eni] = (await ownInterfaces(ec2)).filter((e) => e.NetworkInterfaceId === eniId);
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: eniId,
        Attachment: { AttachmentId: eni!.Attachment!.AttachmentId, DeleteOnTermination: false },
      }),
    );
    const event = await launchEvent(emu(), id, 'terminate');

    // Act
    const report = (await handler(event, context())) as TerminateReport;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));

    // Assess
    expect(report).toMatchObject({ result: 'CONTINUE', markedForDeletion: [eniId], errors: [] });
    expect(await ownInterfaces(ec2)).toEqual([]);
    expect((await emu().lifecycle.completions()).at(-1)).toMatchObject({
      instanceId: id,
      result: 'CONTINUE',
    });
  });

  it('deletes on the terminate hook an unattached ENI of ours left for the instance', async () => {
    // Prepare
    const { ec2, world, id, handler } = await launched();
    const stray = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: world.targetSubnets[world.zones[0]],
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: toTagList({ [TAG.managedBy]: MANAGED_BY, [TAG.instanceId]: id, [TAG.deviceIndex]: '1' }),
          },
        ],
      }),
    );

    // Act
    const report = (await handler(await launchEvent(emu(), id, 'terminate'), context())) as TerminateReport;

    // Assess
    expect(report.deleted).toEqual([stray.NetworkInterface!.NetworkInterfaceId]);
    expect(report.markedForDeletion).toEqual([]);
  });

  it('sweeps only available ENIs of ours older than the grace period', async () => {
    // Prepare: one attached (kept), one old orphan (deleted), one young orphan (kept), one foreign (untouched)
    const { ec2, world } = await launched();
    const orphan = async (
      createdAt: string,
      tags: Record<string, string> = { [TAG.managedBy]: MANAGED_BY },
    ) =>
      (
        await ec2.send(
          new CreateNetworkInterfaceCommand({
            SubnetId: world.targetSubnets[world.zones[1]],
            TagSpecifications: [
              { ResourceType: 'network-interface', Tags: toTagList({ ...tags, [TAG.createdAt]: createdAt }) },
            ],
          }),
        )
      ).NetworkInterface!.NetworkInterfaceId!;
    const old = await orphan(new Date(Date.now() - 3 * 3600_000).toISOString());
    const young = await orphan(new Date(Date.now() - 60_000).toISOString());
    const foreign = await orphan(new Date(0).toISOString(), { team: 'other' });
    const sweep = createSweeperHandler(
      { ec2: sweeperEc2(), logger: silentLogger, clock: systemClock, metrics: recordingMetrics() },
      { graceMs: 30 * 60_000, dryRun: false, maxDeletes: 100, deadlineMarginMs: 2_000 },
    );

    // Act
    const report = await sweep({}, context());

    // Assess
    expect(report.deleted.map((d) => d.networkInterfaceId)).toEqual([old]);
    expect(report.kept.map((d) => d.networkInterfaceId)).toEqual([young]);
    const left = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [young, foreign] }),
    );
    expect(left.NetworkInterfaces).toHaveLength(2);
    expect((await ownInterfaces(ec2)).map((e) => e.NetworkInterfaceId)).not.toContain(old);
  });

  it('only reports in dry-run mode', async () => {
    // Prepare
    const { ec2, world } = await launched();
    const created = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: world.targetSubnets[world.zones[1]],
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: toTagList({ [TAG.managedBy]: MANAGED_BY, [TAG.createdAt]: '2020-01-01T00:00:00Z' }),
          },
        ],
      }),
    );
    const sweep = createSweeperHandler(
      { ec2: sweeperEc2(), logger: silentLogger, clock: systemClock, metrics: recordingMetrics() },
      { graceMs: 30 * 60_000, dryRun: true, maxDeletes: 100, deadlineMarginMs: 2_000 },
    );

    // Act
    const report = await sweep({}, context());

    // Assess
    expect(report.wouldDelete.map((d) => d.networkInterfaceId)).toEqual([
      created.NetworkInterface!.NetworkInterfaceId,
    ]);
    expect(report.deleted).toEqual([]);
    expect(await ownInterfaces(ec2)).toHaveLength(2);
  });
});
