import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { AttachmentSpec } from './config.ts';
import { SubnetMapError } from './errors.ts';

export interface SubnetInfo {
  subnetId: string;
  availabilityZone: string;
  vpcId: string;
}

/** What the configured subnets are, after validation against EC2. */
export type ValidatedSubnets = ReadonlyMap<string, SubnetInfo>;

function where(spec: AttachmentSpec, single: boolean) {
  return single ? 'SUBNET_MAP' : `ATTACHMENTS deviceIndex ${spec.deviceIndex} subnetMap`;
}

/**
 * Check every mapped subnet against EC2: it exists, its AZ equals its key, and
 * the attachment's security groups live in the subnet's VPC. Two filtered
 * Describe calls whatever the number of entries. Throws SubnetMapError naming
 * every bad entry.
 */
export async function validateSubnetMap(
  ec2: EC2Client,
  attachments: readonly AttachmentSpec[],
): Promise<ValidatedSubnets> {
  const single = attachments.length === 1;
  const subnetIds = [...new Set(attachments.flatMap((a) => Object.values(a.subnetMap)))];
  const groupIds = [...new Set(attachments.flatMap((a) => a.securityGroupIds))];
  const subnets = new Map<string, SubnetInfo>();
  const subnetOut = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }] }),
  );
  for (const s of subnetOut.Subnets ?? []) {
    if (s.SubnetId && s.AvailabilityZone && s.VpcId) {
      subnets.set(s.SubnetId, { subnetId: s.SubnetId, availabilityZone: s.AvailabilityZone, vpcId: s.VpcId });
    }
  }
  const groupsOut = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: groupIds }] }),
  );
  const groupVpc = new Map<string, string>();
  for (const g of groupsOut.SecurityGroups ?? []) if (g.GroupId && g.VpcId) groupVpc.set(g.GroupId, g.VpcId);

  const problems: string[] = [];
  for (const spec of attachments) {
    for (const [az, subnetId] of Object.entries(spec.subnetMap)) {
      const info = subnets.get(subnetId);
      const entry = `${where(spec, single)} entry "${az}": "${subnetId}"`;
      if (!info) {
        problems.push(`${entry}: subnet does not exist in this account and Region`);
        continue;
      }
      if (info.availabilityZone !== az) {
        problems.push(`${entry}: subnet is in ${info.availabilityZone}, not ${az}`);
        continue;
      }
      for (const groupId of spec.securityGroupIds) {
        const vpc = groupVpc.get(groupId);
        if (vpc === undefined) {
          problems.push(`${entry}: security group ${groupId} does not exist`);
        } else if (vpc !== info.vpcId) {
          problems.push(
            `${entry}: security group ${groupId} is in ${vpc}, not in the subnet's VPC ${info.vpcId}`,
          );
        }
      }
    }
  }
  if (problems.length > 0) throw new SubnetMapError([...new Set(problems)]);
  return subnets;
}

/**
 * Per-container cache of the validation: the first launch pays two Describe
 * calls, later ones none. A definitive answer (valid, or SubnetMapError) is
 * kept; a transient failure (throttling, network) is retried by the next call.
 */
export function createSubnetCatalog(attachments: readonly AttachmentSpec[]) {
  let cached: Promise<ValidatedSubnets> | undefined;
  return {
    get(ec2: EC2Client): Promise<ValidatedSubnets> {
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
