import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { AttachmentSpec } from './config.ts';
import { AbandonError } from './errors.ts';

/**
 * Every mapped subnet exists, its AZ equals its key, and the attachment's security groups are in
 * its VPC: two filtered Describe calls. The AbandonError names every bad entry.
 */
async function validateSubnetMap(ec2: EC2Client, attachments: readonly AttachmentSpec[]): Promise<void> {
  const subnetIds = [...new Set(attachments.flatMap((a) => Object.values(a.subnetMap)))];
  const groupIds = [...new Set(attachments.flatMap((a) => a.securityGroupIds))];
  const { Subnets = [] } = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }] }),
  );
  const { SecurityGroups = [] } = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: groupIds }] }),
  );
  const subnets = new Map(Subnets.map((s) => [s.SubnetId, s]));
  const groupVpc = new Map(SecurityGroups.map((g) => [g.GroupId, g.VpcId]));
  const problems = attachments.flatMap((spec) =>
    Object.entries(spec.subnetMap).flatMap(([az, subnetId]) => {
      const where =
        attachments.length === 1 ? 'SUBNET_MAP' : `ATTACHMENTS deviceIndex ${spec.deviceIndex} subnetMap`;
      const entry = `${where} entry "${az}": "${subnetId}"`;
      const subnet = subnets.get(subnetId);
      if (!subnet) return [`${entry}: subnet does not exist in this account and Region`];
      if (subnet.AvailabilityZone !== az)
        return [`${entry}: subnet is in ${subnet.AvailabilityZone}, not ${az}`];
      return spec.securityGroupIds.flatMap((groupId) => {
        const vpc = groupVpc.get(groupId);
        if (vpc === undefined) return [`${entry}: security group ${groupId} does not exist`];
        if (vpc === subnet.VpcId) return [];
        return [`${entry}: security group ${groupId} is in ${vpc}, not in the subnet's VPC ${subnet.VpcId}`];
      });
    }),
  );
  if (problems.length > 0) throw new AbandonError(`Invalid subnet map: ${[...new Set(problems)].join('; ')}`);
}

/**
 * Per-container cache of the validation: a definitive answer (valid, or AbandonError) is kept;
 * a transient failure is retried by the next call.
 */
export function createSubnetCatalog(attachments: readonly AttachmentSpec[]) {
  let cached: Promise<void> | undefined;
  return {
    get(ec2: EC2Client): Promise<void> {
      if (!cached) {
        const attempt = validateSubnetMap(ec2, attachments);
        cached = attempt;
        attempt.catch((error: unknown) => {
          if (!(error instanceof AbandonError) && cached === attempt) cached = undefined;
        });
      }
      return cached;
    },
  };
}

export type SubnetCatalog = ReturnType<typeof createSubnetCatalog>;
