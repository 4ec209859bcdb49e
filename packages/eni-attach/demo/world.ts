import {
  type _InstanceType,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type NetworkInterface,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { MANAGED_BY, TAG } from '../src/naming.ts';

export interface World {
  zones: [string, string];
  /** Subnets of the instances' (source) VPC, per AZ. */
  sourceSubnets: Record<string, string>;
  /** Subnets of the other (target) VPC, per AZ: the SUBNET_MAP. */
  targetSubnets: Record<string, string>;
  targetVpcId: string;
  targetSecurityGroupId: string;
  sourceSecurityGroupId: string;
}

/** The seed's scenario widened to two AZs: a source VPC with the group, a target VPC for the extra ENIs. */
export async function twoVpcWorld(ec2: EC2Client, region: string): Promise<World> {
  const zones: [string, string] = [`${region}a`, `${region}b`];
  const vpc = async (cidr: string) => (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
  const sourceVpcId = await vpc('10.79.0.0/16');
  const targetVpcId = await vpc('10.80.0.0/16');
  const subnets = async (vpcId: string, prefix: string) => {
    const out: Record<string, string> = {};
    for (const [i, az] of zones.entries()) {
      const s = await ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `${prefix}.${i}.0/24`, AvailabilityZone: az }),
      );
      out[az] = s.Subnet!.SubnetId!;
    }
    return out;
  };
  const sg = async (vpcId: string, name: string) =>
    (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: name, Description: name })))
      .GroupId!;
  const world: World = {
    zones,
    sourceSubnets: await subnets(sourceVpcId, '10.79'),
    targetSubnets: await subnets(targetVpcId, '10.80'),
    targetVpcId,
    targetSecurityGroupId: await sg(targetVpcId, 'target'),
    sourceSecurityGroupId: await sg(sourceVpcId, 'source'),
  };
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: world.targetSecurityGroupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.80.0.0/16' }] },
      ],
    }),
  );
  return world;
}

export async function runInstances(
  ec2: EC2Client,
  subnetId: string,
  count: number,
  instanceType: _InstanceType = 'm5.large',
  groupName = 'web-asg',
): Promise<string[]> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: instanceType,
      MinCount: count,
      MaxCount: count,
      SubnetId: subnetId,
      // The tag Auto Scaling puts on every instance it launches (the template scopes IAM with it).
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'aws:autoscaling:groupName', Value: groupName }] },
      ],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId!);
}

/** Every ENI this package created, by instance id. */
export async function ownInterfaces(ec2: EC2Client): Promise<NetworkInterface[]> {
  const out = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] }],
    }),
  );
  return out.NetworkInterfaces ?? [];
}

/** The ENIs attached to an instance (primary included). */
export async function interfacesOf(ec2: EC2Client, instanceId: string): Promise<NetworkInterface[]> {
  const out = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
    }),
  );
  return out.NetworkInterfaces ?? [];
}
