import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  DetachInternetGatewayCommand,
  DisassociateAddressCommand,
  type EC2Client,
  ReleaseAddressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients, launch, network } from './support/aws.ts';

// Long enough that the checks made while the NAT is deleting finish inside the window on a loaded 2-core
// machine; the end of the window is awaited by polling, not by a fixed sleep.
const NAT_DELAY_MS = 5_000;
const emu = useEmulator({ natDeleteDelayMs: NAT_DELAY_MS });

async function allocate(ec2: EC2Client) {
  const out = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  return { allocationId: out.AllocationId!, publicIp: out.PublicIp! };
}

async function address(ec2: EC2Client, allocationId: string) {
  const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
  return out.Addresses![0]!;
}

describe('Elastic IP association', () => {
  it('replaces the EIP on the primary private IP: the previous EIP becomes unassociated', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const first = await allocate(ec2);
    const second = await allocate(ec2);
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: first.allocationId, InstanceId: instance!.InstanceId }),
    );
    expect((await address(ec2, first.allocationId)).InstanceId).toBe(instance!.InstanceId);
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: second.allocationId, InstanceId: instance!.InstanceId }),
    );
    const previous = await address(ec2, first.allocationId);
    expect(previous.InstanceId).toBeUndefined();
    expect(previous.AssociationId).toBeUndefined();
    expect(previous.NetworkInterfaceId).toBeUndefined();
    const current = await address(ec2, second.allocationId);
    expect(current.InstanceId).toBe(instance!.InstanceId);
    expect(current.PrivateIpAddress).toBe(instance!.PrivateIpAddress);
    const associated = await ec2.send(
      new DescribeAddressesCommand({ Filters: [{ Name: 'instance-id', Values: [instance!.InstanceId!] }] }),
    );
    expect(associated.Addresses!.map((a) => a.AllocationId)).toEqual([second.allocationId]);
  });

  it('fails with Resource.AlreadyAssociated when AllowReassociation=false and another instance holds the EIP', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [a, b] = await launch(ec2, net.subnetA, 2);
    const eip = await allocate(ec2);
    await ec2.send(
      new AssociateAddressCommand({
        AllocationId: eip.allocationId,
        InstanceId: a!.InstanceId,
        AllowReassociation: false,
      }),
    );
    await awsError(
      ec2.send(
        new AssociateAddressCommand({
          AllocationId: eip.allocationId,
          InstanceId: b!.InstanceId,
          AllowReassociation: false,
        }),
      ),
      'Resource.AlreadyAssociated',
      400,
    );
    expect((await address(ec2, eip.allocationId)).InstanceId).toBe(a!.InstanceId);
  });

  it('lets exactly one of several concurrent AllowReassociation=false claims of one EIP win', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const instances = await launch(ec2, net.subnetA, 8);
    const eip = await allocate(ec2);
    const results = await Promise.allSettled(
      instances.map((i) =>
        ec2.send(
          new AssociateAddressCommand({
            AllocationId: eip.allocationId,
            InstanceId: i.InstanceId,
            AllowReassociation: false,
          }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('treats associating the same EIP to the same instance again as an idempotent success', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const eip = await allocate(ec2);
    const first = await ec2.send(
      new AssociateAddressCommand({
        AllocationId: eip.allocationId,
        InstanceId: instance!.InstanceId,
        AllowReassociation: false,
      }),
    );
    const again = await ec2.send(
      new AssociateAddressCommand({
        AllocationId: eip.allocationId,
        InstanceId: instance!.InstanceId,
        AllowReassociation: false,
      }),
    );
    expect(again.AssociationId).toBe(first.AssociationId);
    expect((await address(ec2, eip.allocationId)).InstanceId).toBe(instance!.InstanceId);
  });

  it('moves an EIP when reassociation is allowed and clears it from the previous instance', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [a, b] = await launch(ec2, net.subnetA, 2);
    const eip = await allocate(ec2);
    await ec2.send(
      new AssociateAddressCommand({ AllocationId: eip.allocationId, InstanceId: a!.InstanceId }),
    );
    await ec2.send(
      new AssociateAddressCommand({
        AllocationId: eip.allocationId,
        InstanceId: b!.InstanceId,
        AllowReassociation: true,
      }),
    );
    expect((await address(ec2, eip.allocationId)).InstanceId).toBe(b!.InstanceId);
    const onA = await ec2.send(
      new DescribeAddressesCommand({ Filters: [{ Name: 'instance-id', Values: [a!.InstanceId!] }] }),
    );
    expect(onA.Addresses).toEqual([]);
  });

  it('refuses to release an associated EIP with InvalidIPAddress.InUse', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const [instance] = await launch(ec2, net.subnetA);
    const eip = await allocate(ec2);
    const { AssociationId } = await ec2.send(
      new AssociateAddressCommand({ AllocationId: eip.allocationId, InstanceId: instance!.InstanceId }),
    );
    await awsError(
      ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId })),
      'InvalidIPAddress.InUse',
    );
    await ec2.send(new DisassociateAddressCommand({ AssociationId }));
    await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId }));
  });
});

describe('NAT gateway deletion and internet gateway detach', () => {
  async function natWorld(ec2: EC2Client) {
    const net = await network(ec2);
    const igw = await ec2.send(new CreateInternetGatewayCommand({}));
    const igwId = igw.InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: net.vpcId }));
    const eip = await allocate(ec2);
    const nat = await ec2.send(
      new CreateNatGatewayCommand({ SubnetId: net.subnetA, AllocationId: eip.allocationId }),
    );
    return { net, igwId, eip, natId: nat.NatGateway!.NatGatewayId! };
  }

  async function natState(ec2: EC2Client, natId: string) {
    const out = await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natId] }));
    return out.NatGateways![0]!.State;
  }

  /** Polls until the NAT gateway is deleted (bounded); returns how long it stayed deleting. */
  async function untilDeleted(ec2: EC2Client, natId: string, since: number): Promise<number> {
    const limit = since + NAT_DELAY_MS + 30_000;
    while ((await natState(ec2, natId)) !== 'deleted') {
      if (Date.now() > limit) throw new Error(`NAT gateway ${natId} still not deleted`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return Date.now() - since;
  }

  it('keeps a deleted NAT gateway deleting for natDeleteDelayMs, then deleted; its EIP cannot be released meanwhile', async () => {
    const { ec2 } = clients(emu());
    const { eip, natId } = await natWorld(ec2);
    expect(await natState(ec2, natId)).toBe('available');
    const started = Date.now();
    const deleted = await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    expect(deleted.NatGatewayId).toBe(natId);
    expect(await natState(ec2, natId)).toBe('deleting');
    const inUse = await awsError(
      ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId })),
      'InvalidIPAddress.InUse',
      400,
    );
    expect(inUse.message).toContain(eip.publicIp);
    await awsError(
      ec2.send(new DisassociateAddressCommand({ PublicIp: eip.publicIp })),
      'InvalidIPAddress.InUse',
    );
    expect(await untilDeleted(ec2, natId, started)).toBeGreaterThanOrEqual(NAT_DELAY_MS);
    expect((await address(ec2, eip.allocationId)).AssociationId).toBeUndefined();
    await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId }));
  });

  it('keeps deleted NAT gateways visible and filterable by state', async () => {
    const { ec2 } = clients(emu());
    await emu().configure({ natDeleteDelayMs: 0 });
    const { natId } = await natWorld(ec2);
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    const deletedOnes = await ec2.send(
      new DescribeNatGatewaysCommand({ Filter: [{ Name: 'state', Values: ['deleted'] }] }),
    );
    expect(deletedOnes.NatGateways!.map((n) => n.NatGatewayId)).toEqual([natId]);
    const live = await ec2.send(
      new DescribeNatGatewaysCommand({
        Filter: [{ Name: 'state', Values: ['pending', 'available', 'deleting'] }],
      }),
    );
    expect(live.NatGateways).toEqual([]);
  });

  it('fails DetachInternetGateway with DependencyViolation while a NAT EIP is mapped, and succeeds once the NAT is deleted', async () => {
    const { ec2 } = clients(emu());
    const { net, igwId, natId } = await natWorld(ec2);
    const detach = () =>
      ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: net.vpcId }));
    const error = await awsError(detach(), 'DependencyViolation', 400);
    expect(error.message).toBe(
      `Network ${net.vpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
    );
    const started = Date.now();
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    await awsError(detach(), 'DependencyViolation'); // still deleting
    await untilDeleted(ec2, natId, started);
    await detach();
  });

  it('fails DetachInternetGateway while an instance EIP is mapped in the VPC', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    const igw = await ec2.send(new CreateInternetGatewayCommand({}));
    const igwId = igw.InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: net.vpcId }));
    const [instance] = await launch(ec2, net.subnetA);
    const eip = await allocate(ec2);
    const { AssociationId } = await ec2.send(
      new AssociateAddressCommand({ AllocationId: eip.allocationId, InstanceId: instance!.InstanceId }),
    );
    await awsError(
      ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: net.vpcId })),
      'DependencyViolation',
    );
    await ec2.send(new DisassociateAddressCommand({ AssociationId }));
    await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: net.vpcId }));
  });
});
