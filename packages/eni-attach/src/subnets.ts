import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { AttachmentSpec } from './config.ts';
import { SubnetMapError } from './errors.ts';

interface SubnetInfo {
  availabilityZone: string;
  vpcId: string;
}

/**
 * Every mapped subnet exists, its AZ equals its key, and the attachment's security groups are in
 * its VPC: two filtered Describe calls. SubnetMapError names every bad entry.
 */
async function validateSubnetMap(
  ec2: EC2Client,
  attachments: readonly AttachmentSpec[],
): Promise<ReadonlyMap<string, SubnetInfo>> {
  const subnetIds = [...new Set(attachments.flatMap((a) => Object.values(a.subnetMap)))];
  const groupIds = [...new Set(attachments.flatMap((a) => a.securityGroupIds))];
  const subnetOut = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }] }),
  );
  const subnets = new Map<string, SubnetInfo>();
  for (const { SubnetId, AvailabilityZone, VpcId } of subnetOut.Subnets ?? [])
    if (SubnetId && AvailabilityZone && VpcId)
      subnets.set(SubnetId, { availabilityZone: AvailabilityZone, vpcId: VpcId });
  const groupsOut = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: groupIds }] }),
  );
  const groupVpc = new Map<string, string>();
  for (const g of groupsOut.SecurityGroups ?? []) if (g.GroupId && g.VpcId) groupVpc.set(g.GroupId, g.VpcId);
  const single = attachments.length === 1;
  const problems = attachments.flatMap((spec) =>
    Object.entries(spec.subnetMap).flatMap(([az, subnetId]) => {
      const where = single ? 'SUBNET_MAP' : `ATTACHMENTS deviceIndex ${spec.deviceIndex} subnetMap`;
      return entryProblems(
        `${where} entry "${az}": "${subnetId}"`,
        az,
        subnets.get(subnetId),
        spec,
        groupVpc,
      );
    }),
  );
  if (problems.length > 0) throw new SubnetMapError([...new Set(problems)]);
  return subnets;
}

function entryProblems(
  entry: string,
  az: string,
  info: SubnetInfo | undefined,
  spec: AttachmentSpec,
  groupVpc: ReadonlyMap<string, string>,
): string[] {
  if (!info) return [`${entry}: subnet does not exist in this account and Region`];
  if (info.availabilityZone !== az) return [`${entry}: subnet is in ${info.availabilityZone}, not ${az}`];
  return spec.securityGroupIds.flatMap((groupId) => {
    const vpc = groupVpc.get(groupId);
    if (vpc === undefined) return [`${entry}: security group ${groupId} does not exist`];
    if (vpc === info.vpcId) return [];
    return [`${entry}: security group ${groupId} is in ${vpc}, not in the subnet's VPC ${info.vpcId}`];
  });
}

/**
 * Per-container cache of the validation: a definitive answer (valid, or SubnetMapError) is kept;
 * a transient failure is retried by the next call.
 */
export function createSubnetCatalog(attachments: readonly AttachmentSpec[]) {
  let cached: Promise<ReadonlyMap<string, SubnetInfo>> | undefined;
  return {
    get(ec2: EC2Client): Promise<ReadonlyMap<string, SubnetInfo>> {
      if (!cached) {
        const attempt = validateSubnetMap(ec2, attachments);
        cached = attempt;
        attempt.catch((error: unknown) => {
          if (!(error instanceof SubnetMapError) && cached === attempt) cached = undefined;
        });
      }
      return cached;
    },
  };
}

export type SubnetCatalog = ReturnType<typeof createSubnetCatalog>;
