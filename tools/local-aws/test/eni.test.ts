import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients, launch, network } from './support/aws.ts';

const emu = useEmulator();

async function eni(subnetId: string) {
  const { ec2 } = clients(emu());
  const out = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }));
  return out.NetworkInterface!.NetworkInterfaceId!;
}

async function describeEni(id: string) {
  const { ec2 } = clients(emu());
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
  return out.NetworkInterfaces![0]!;
}

describe('AttachNetworkInterface', () => {
  it('attaches an available ENI and reports it in-use with DeleteOnTermination=false', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const eniId = await eni(net.subnetA);
    const out = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: eniId,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    expect(out.AttachmentId).toMatch(/^eni-attach-/);
    const described = await describeEni(eniId);
    expect(described.Status).toBe('in-use');
    expect(described.Attachment?.InstanceId).toBe(instance!.InstanceId);
    expect(described.Attachment?.DeleteOnTermination).toBe(false);
  });

  it('rejects attaching an in-use ENI with InvalidNetworkInterface.InUse', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [a, b] = await launch(ec2, net.subnetA, 2);
    const eniId = await eni(net.subnetA);
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: eniId,
        InstanceId: a!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    const error = await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: eniId,
          InstanceId: b!.InstanceId,
          DeviceIndex: 1,
        }),
      ),
      'InvalidNetworkInterface.InUse',
      400,
    );
    expect(error.message).toContain(eniId);
    // the same instance again is also an in-use conflict
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: eniId,
          InstanceId: a!.InstanceId,
          DeviceIndex: 2,
        }),
      ),
      'InvalidNetworkInterface.InUse',
    );
    expect((await describeEni(eniId)).Attachment?.InstanceId).toBe(a!.InstanceId);
  });

  it('rejects a device index that is already taken with InvalidParameterValue', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA, 1, 'm5.xlarge');
    const first = await eni(net.subnetA);
    const second = await eni(net.subnetA);
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: first,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    const error = await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: second,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 1,
        }),
      ),
      'InvalidParameterValue',
      400,
    );
    expect(error.message).toBe(
      `Instance '${instance!.InstanceId}' already has an interface attached at device index '1'.`,
    );
    // device index 0 is the primary ENI
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: second,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 0,
        }),
      ),
      'InvalidParameterValue',
    );
    expect((await describeEni(second)).Status).toBe('available');
  });

  it('rejects an ENI from another availability zone with InvalidParameterCombination', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const other = await eni(net.subnetB);
    const error = await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: other,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 1,
        }),
      ),
      'InvalidParameterCombination',
    );
    expect(error.message).toContain('same availability zone');
  });

  it('enforces the max ENIs of the instance type with AttachmentLimitExceeded (t3.micro: 2)', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA, 1, 't3.micro');
    const first = await eni(net.subnetA);
    const second = await eni(net.subnetA);
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: first,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: second,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 2,
        }),
      ),
      'AttachmentLimitExceeded',
    );
  });

  it('allows m5.xlarge up to 4 ENIs and rejects the fifth', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA, 1, 'm5.xlarge');
    for (const index of [1, 2, 3]) {
      const id = await eni(net.subnetA);
      await ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: id,
          InstanceId: instance!.InstanceId,
          DeviceIndex: index,
        }),
      );
    }
    const fifth = await eni(net.subnetA);
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: fifth,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 4,
        }),
      ),
      'AttachmentLimitExceeded',
    );
  });

  it('rejects a terminated instance with IncorrectInstanceState and an unknown one with InvalidInstanceID.NotFound', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const id = await eni(net.subnetA);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance!.InstanceId!] }));
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: id,
          InstanceId: instance!.InstanceId,
          DeviceIndex: 1,
        }),
      ),
      'IncorrectInstanceState',
    );
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: id,
          InstanceId: 'i-0123456789abcdef0',
          DeviceIndex: 1,
        }),
      ),
      'InvalidInstanceID.NotFound',
    );
  });

  it('lets exactly one of 20 concurrent attaches of the same ENI win', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const instances = await launch(ec2, net.subnetA, 20);
    const eniId = await eni(net.subnetA);
    const results = await Promise.allSettled(
      instances.map((i) =>
        ec2.send(
          new AttachNetworkInterfaceCommand({
            NetworkInterfaceId: eniId,
            InstanceId: i.InstanceId,
            DeviceIndex: 1,
          }),
        ),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    for (const r of lost) expect((r.reason as Error).name).toBe('InvalidNetworkInterface.InUse');
    const counts = await emu().calls();
    expect(counts['ec2:AttachNetworkInterface']).toBe(20);
  });

  it('refuses to delete an attached ENI and to detach the primary ENI', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const id = await eni(net.subnetA);
    const { AttachmentId } = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: id,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    await awsError(
      ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })),
      'InvalidNetworkInterface.InUse',
    );
    const primary = instance!.NetworkInterfaces!.find((n) => n.Attachment?.DeviceIndex === 0)!;
    await awsError(
      ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: primary.Attachment!.AttachmentId })),
      'OperationNotPermitted',
    );
    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId }));
    expect((await describeEni(id)).Status).toBe('available');
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
  });
});

describe('DeleteOnTermination', () => {
  it('records Attachment.DeleteOnTermination from ModifyNetworkInterfaceAttribute and shows it in DescribeNetworkInterfaces', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const id = await eni(net.subnetA);
    const { AttachmentId } = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: id,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: id,
        Attachment: { AttachmentId, DeleteOnTermination: true },
      }),
    );
    expect((await describeEni(id)).Attachment?.DeleteOnTermination).toBe(true);
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: id,
        Attachment: { AttachmentId, DeleteOnTermination: false },
      }),
    );
    expect((await describeEni(id)).Attachment?.DeleteOnTermination).toBe(false);
  });

  it('rejects an attachment id that is not the ENI attachment with InvalidAttachmentID.NotFound', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const id = await eni(net.subnetA);
    await awsError(
      ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: id,
          Attachment: { AttachmentId: 'eni-attach-0123456789abcdef0', DeleteOnTermination: true },
        }),
      ),
      'InvalidAttachmentID.NotFound',
    );
  });

  it('on TerminateInstances deletes DeleteOnTermination ENIs (and the primary) and detaches the others to available', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA, 1, 'm5.xlarge');
    const primaryId = instance!.NetworkInterfaces!.find((n) => n.Attachment?.DeviceIndex === 0)!
      .NetworkInterfaceId!;
    expect((await describeEni(primaryId)).Attachment?.DeleteOnTermination).toBe(true);
    const doomed = await eni(net.subnetA);
    const kept = await eni(net.subnetA);
    const a = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: doomed,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 1,
      }),
    );
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: kept,
        InstanceId: instance!.InstanceId,
        DeviceIndex: 2,
      }),
    );
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: doomed,
        Attachment: { AttachmentId: a.AttachmentId, DeleteOnTermination: true },
      }),
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance!.InstanceId!] }));

    const remaining = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }),
    );
    const ids = remaining.NetworkInterfaces!.map((n) => n.NetworkInterfaceId);
    expect(ids).not.toContain(doomed);
    expect(ids).not.toContain(primaryId);
    expect(ids).toContain(kept);
    const survivor = await describeEni(kept);
    expect(survivor.Status).toBe('available');
    expect(survivor.Attachment).toBeUndefined();
    await awsError(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [doomed] })),
      'InvalidNetworkInterfaceID.NotFound',
    );
  });
});

describe('tag filters', () => {
  it('matches resources carrying all the filtered tags, after tags change (direct tag lookup patch)', async () => {
    // Prepare
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const tagged = async (tags: Record<string, string>) => {
      const out = await ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: net.subnetA,
          TagSpecifications: [
            {
              ResourceType: 'network-interface',
              Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
      );
      return out.NetworkInterface!.NetworkInterfaceId!;
    };
    const both = await tagged({ Pool: 'a', Role: 'db' });
    await tagged({ Pool: 'a', Role: 'web' });
    await tagged({ Pool: 'b', Role: 'db' });
    const later = await eni(net.subnetA);
    await ec2.send(
      new CreateTagsCommand({
        Resources: [later],
        Tags: [
          { Key: 'Pool', Value: 'a' },
          { Key: 'Role', Value: 'db' },
        ],
      }),
    );

    // Act
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'tag:Pool', Values: ['a'] },
          { Name: 'tag:Role', Values: ['db'] },
        ],
      }),
    );

    // Assess
    expect(out.NetworkInterfaces!.map((n) => n.NetworkInterfaceId).sort()).toEqual([both, later].sort());
    expect(out.NetworkInterfaces!.find((n) => n.NetworkInterfaceId === both)?.TagSet).toEqual(
      expect.arrayContaining([
        { Key: 'Pool', Value: 'a' },
        { Key: 'Role', Value: 'db' },
      ]),
    );
  });
});
