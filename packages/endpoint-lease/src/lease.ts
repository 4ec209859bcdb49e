/**
 * Lease and reap-intent records, two tags on the VPC (README "Lease safety"): acquire writes its lease
 * then reads the intent; the reaper writes its intent then reads the lease; the second writer is seen.
 */
import { CreateTagsCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';

export const leaseTagKey = (stackName: string) => `netkit:endpoint-lease:${stackName}`;
export const reapTagKey = (stackName: string) => `netkit:endpoint-reap:${stackName}`;
export const iso = (ms: number) => new Date(ms).toISOString();

export interface ReapIntent {
  expiresAt: number;
  owner: string;
  /** The raw tag value, for the conditional DeleteTags. */
  raw: string;
}

function parseTime(value: string | undefined): number | undefined {
  const t = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

// An unreadable intent counts as expired: it can never block an acquire forever.
function parseIntent(raw: string): ReapIntent | undefined {
  const [time, owner = ''] = raw.split(' ');
  const expiresAt = parseTime(time);
  return expiresAt === undefined ? undefined : { expiresAt, owner, raw };
}

/** The `startedBy` of the package's tasks (at most 128 characters): the reaper lists tasks by it. */
export const startedByFor = (stackName: string) => `endpoint-lease/${stackName}`.slice(0, 128);

/** Both records in one filtered DescribeTags call. */
export async function readRecords(ec2: EC2Client, vpcId: string, stackName: string) {
  const out = await ec2.send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'resource-id', Values: [vpcId] },
        { Name: 'key', Values: [leaseTagKey(stackName), reapTagKey(stackName)] },
      ],
    }),
  );
  const value = (key: string) => out.Tags?.find((tag) => tag.Key === key)?.Value;
  const intent = value(reapTagKey(stackName));
  return {
    leaseUntil: parseTime(value(leaseTagKey(stackName))),
    intent: intent === undefined ? undefined : parseIntent(intent),
  };
}

export async function writeLease(ec2: EC2Client, vpcId: string, stackName: string, until: number) {
  await ec2.send(
    new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: leaseTagKey(stackName), Value: iso(until) }] }),
  );
}
