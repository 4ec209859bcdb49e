import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients, launch, network } from './support/aws.ts';

const emu = useEmulator();

describe('ClientToken idempotency (CreateNetworkInterface)', () => {
  // "Ensuring idempotency in Amazon EC2 API requests"
  // (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a retry with the same
  // client token and parameters returns the original result, also after the resource was
  // deleted; other parameters with the same token fail IdempotentParameterMismatch.
  it('returns the first interface again for the same token and parameters, without creating another', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const input = { SubnetId: net.subnetA, Description: 'first', ClientToken: 'token-same' };
    const first = await ec2.send(new CreateNetworkInterfaceCommand(input));
    const again = await ec2.send(new CreateNetworkInterfaceCommand(input));
    expect(again.NetworkInterface?.NetworkInterfaceId).toBe(first.NetworkInterface?.NetworkInterfaceId);
    expect(again.ClientToken).toBe(first.ClientToken);
    const all = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [net.subnetA] }] }),
    );
    expect(all.NetworkInterfaces).toHaveLength(1);
  });

  it('returns the first (now deleted) interface for the same token even after it was deleted', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const input = { SubnetId: net.subnetA, ClientToken: 'token-deleted' };
    const first = await ec2.send(new CreateNetworkInterfaceCommand(input));
    const id = first.NetworkInterface!.NetworkInterfaceId!;
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
    const retried = await ec2.send(new CreateNetworkInterfaceCommand(input));
    expect(retried.NetworkInterface?.NetworkInterfaceId).toBe(id);
    // ... and nothing exists behind it: the caller gets a deleted interface back.
    await awsError(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] })),
      'InvalidNetworkInterfaceID.NotFound',
      400,
    );
  });

  it('fails IdempotentParameterMismatch for the same token with other parameters', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA, ClientToken: 'token-x' }));
    await awsError(
      ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: net.subnetA,
          Description: 'other',
          ClientToken: 'token-x',
        }),
      ),
      'IdempotentParameterMismatch',
      400,
    );
    // A different token is a new request.
    const other = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: net.subnetA,
        Description: 'other',
        ClientToken: 'token-y',
      }),
    );
    expect(other.NetworkInterface?.Description).toBe('other');
  });

  it('forgets tokens on reset', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA, ClientToken: 'token-reset' }));
    await emu().reset();
    const net2 = await network(ec2);
    const out = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: net2.subnetA, ClientToken: 'token-reset' }),
    );
    expect(out.NetworkInterface?.SubnetId).toBe(net2.subnetA);
  });
});

describe('AssociateAddress by InstanceId', () => {
  // EC2 API reference, AssociateAddress, InstanceId: "The instance must have exactly one attached
  // network interface." AWS answers InvalidInstanceID ("There are multiple interfaces attached to
  // instance ... Please specify an interface ID for the operation instead.").
  it('fails InvalidInstanceID on an instance with two attached interfaces; by NetworkInterfaceId it works', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const instanceId = instance!.InstanceId!;
    const eni = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: instanceId,
        NetworkInterfaceId: eni.NetworkInterface!.NetworkInterfaceId!,
        DeviceIndex: 1,
      }),
    );
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const error = await awsError(
      ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: instanceId })),
      'InvalidInstanceID',
      400,
    );
    expect(error.message).toContain('multiple interfaces');
    expect(error.message).toContain(instanceId);

    const primary = instance!.NetworkInterfaces!.find((n) => n.Attachment?.DeviceIndex === 0)!;
    await ec2.send(
      new AssociateAddressCommand({
        AllocationId: eip.AllocationId,
        NetworkInterfaceId: primary.NetworkInterfaceId,
        AllowReassociation: false,
      }),
    );
    const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }));
    expect(out.Addresses![0]!.NetworkInterfaceId).toBe(primary.NetworkInterfaceId);
    expect(out.Addresses![0]!.InstanceId).toBe(instanceId);
  });

  it('replaces the EIP already on an interface private IP when associating by NetworkInterfaceId', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const primary = instance!.NetworkInterfaces![0]!.NetworkInterfaceId!;
    const a = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const b = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: primary }),
    );
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: b.AllocationId, NetworkInterfaceId: primary }),
    );
    const out = await ec2.send(
      new DescribeAddressesCommand({ Filters: [{ Name: 'network-interface-id', Values: [primary] }] }),
    );
    expect(out.Addresses!.map((x) => x.AllocationId)).toEqual([b.AllocationId]);
  });
});

describe('Eventual consistency of Describe calls (describeLagMs)', () => {
  // "Eventual consistency in the Amazon EC2 API"
  // (docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): right after RunInstances,
  // DescribeInstances may answer InvalidInstanceID.NotFound and describes may not list the
  // new resources yet.
  it('hides a just-launched instance from DescribeInstances and filtered DescribeNetworkInterfaces', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    await emu().configure({ describeLagMs: 60_000 });
    const [instance] = await launch(ec2, net.subnetA);
    const instanceId = instance!.InstanceId!;
    await awsError(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
      'InvalidInstanceID.NotFound',
      400,
    );
    const listed = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'subnet-id', Values: [net.subnetA] }] }),
    );
    expect(listed.Reservations ?? []).toHaveLength(0);
    const enis = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
      }),
    );
    expect(enis.NetworkInterfaces ?? []).toHaveLength(0);
    // Mutations see it at once (only describes lag).
    const eni = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: instanceId,
        NetworkInterfaceId: eni.NetworkInterface!.NetworkInterfaceId!,
        DeviceIndex: 1,
      }),
    );
    // The switch: with the lag off, the same instance is visible.
    await emu().configure({ describeLagMs: 0 });
    const seen = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(seen.Reservations![0]!.Instances![0]!.InstanceId).toBe(instanceId);
    const attached = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
      }),
    );
    expect(attached.NetworkInterfaces).toHaveLength(2);
  });

  it('shows the instance once the lag has passed', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    await emu().configure({ describeLagMs: 300 });
    const [instance] = await launch(ec2, net.subnetA);
    const instanceId = instance!.InstanceId!;
    let seen: string | undefined;
    for (let i = 0; i < 200 && seen === undefined; i++) {
      try {
        const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        seen = out.Reservations?.[0]?.Instances?.[0]?.InstanceId;
      } catch (error) {
        expect((error as Error).name).toBe('InvalidInstanceID.NotFound');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(seen).toBe(instanceId);
  });

  it('is off by default and back to the start options after reset', async () => {
    const { ec2 } = clients(emu());
    await emu().configure({ describeLagMs: 60_000 });
    await emu().reset();
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance!.InstanceId!] }));
    expect(out.Reservations![0]!.Instances![0]!.InstanceId).toBe(instance!.InstanceId);
  });
});

describe('Eventual consistency after AttachNetworkInterface (attachLagMs)', () => {
  // "Eventual consistency in the Amazon EC2 API"
  // (docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): a Describe call right
  // after a mutation may not reflect it yet. The attach itself has happened: a second attach and a
  // delete both fail InvalidNetworkInterface.InUse (EC2 API reference, DeleteNetworkInterface: "You
  // must detach the network interface before you can delete it"), while Describe still shows the
  // interface unattached.
  async function attachedEni() {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const eni = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    const id = eni.NetworkInterface!.NetworkInterfaceId!;
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: instance!.InstanceId!,
        NetworkInterfaceId: id,
        DeviceIndex: 1,
      }),
    );
    return { ec2, id, instanceId: instance!.InstanceId! };
  }

  it('shows a just-attached interface unattached for attachLagMs, refusing a second attach and a delete meanwhile', async () => {
    // A lag no slow machine outlasts; then the lag ends by setting it to 0 (entries age against it).
    await emu().configure({ attachLagMs: 60_000 });
    const { ec2, id, instanceId } = await attachedEni();

    const stale = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
    expect(stale.NetworkInterfaces?.[0]?.Status).toBe('available');
    expect(stale.NetworkInterfaces?.[0]?.Attachment).toBeUndefined();
    const byInstance = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
      }),
    );
    expect(byInstance.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).not.toContain(id);
    await awsError(
      ec2.send(
        new AttachNetworkInterfaceCommand({ InstanceId: instanceId, NetworkInterfaceId: id, DeviceIndex: 2 }),
      ),
      'InvalidNetworkInterface.InUse',
      400,
    );
    await awsError(
      ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })),
      'InvalidNetworkInterface.InUse',
      400,
    );

    await emu().configure({ attachLagMs: 0 });
    const settled = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
    expect(settled.NetworkInterfaces?.[0]?.Status).toBe('in-use');
    expect(settled.NetworkInterfaces?.[0]?.Attachment).toMatchObject({
      InstanceId: instanceId,
      DeviceIndex: 1,
    });
  });

  it('shows the attachment at once when attachLagMs is 0 (the default)', async () => {
    const { ec2, id, instanceId } = await attachedEni();
    const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
    expect(out.NetworkInterfaces?.[0]?.Attachment).toMatchObject({ InstanceId: instanceId, DeviceIndex: 1 });
  });
});

describe('ClientToken under concurrency', () => {
  // "Ensuring idempotency in Amazon EC2 API requests": requests with one client token are one
  // request, also when they arrive at the same time (two deliveries of one launch event): EC2
  // returns the same interface to every one of them and creates one.
  it('creates one interface for concurrent creates with one token, and answers each with it', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const input = { SubnetId: net.subnetA, Description: 'twin', ClientToken: 'token-concurrent' };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => ec2.send(new CreateNetworkInterfaceCommand(input))),
    );
    const ids = new Set(answers.map((a) => a.NetworkInterface?.NetworkInterfaceId));
    expect(ids.size).toBe(1);
    const all = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [net.subnetA] }] }),
    );
    expect(all.NetworkInterfaces).toHaveLength(1);
  });
});

describe('Eventual consistency after AssociateAddress (associateLagMs)', () => {
  // "Eventual consistency in the Amazon EC2 API": a Describe right after a mutation may not
  // reflect it. The association has happened: another instance's AssociateAddress with
  // AllowReassociation=false fails Resource.AlreadyAssociated while DescribeAddresses still shows
  // the address free.
  it('shows a just-associated address unassociated for associateLagMs, while it refuses another instance', async () => {
    await emu().configure({ associateLagMs: 60_000 });
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [first, second] = await launch(ec2, net.subnetA, 2);
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: first!.InstanceId }),
    );

    const stale = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }));
    expect(stale.Addresses?.[0]?.InstanceId).toBeFalsy();
    expect(stale.Addresses?.[0]?.AssociationId).toBeFalsy();
    await awsError(
      ec2.send(
        new AssociateAddressCommand({
          AllocationId: eip.AllocationId,
          InstanceId: second!.InstanceId,
          AllowReassociation: false,
        }),
      ),
      'Resource.AlreadyAssociated',
      400,
    );

    await emu().configure({ associateLagMs: 0 });
    const settled = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }));
    expect(settled.Addresses?.[0]?.InstanceId).toBe(first!.InstanceId);
    expect(settled.Addresses?.[0]?.AssociationId).toMatch(/^eipassoc-/);
  });
});
