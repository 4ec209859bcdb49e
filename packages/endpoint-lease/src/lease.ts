/** Lease and reap-intent records, two tags on the VPC; the second writer is seen (README "Lease safety"). */
import { CreateTagsCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';

export const leaseTagKey = (stackName: string) => `netkit:endpoint-lease:${stackName}`;
export const reapTagKey = (stackName: string) => `netkit:endpoint-reap:${stackName}`;
export const iso = (ms: number) => new Date(ms).toISOString();

function parseTime(value: string | undefined) {
  const t = Date.parse(value ?? '');
  return Number.isNaN(t) ? undefined : t;
}

/** The `startedBy` the reaper lists the package's tasks by (at most 128 characters: stack names have 100). */
export const startedByFor = (stackName: string) => `endpoint-lease/${stackName}`;

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
  return {
    leaseUntil: parseTime(value(leaseTagKey(stackName))),
    // The intent is `<expiry> <reaper id>`; an unreadable one counts as expired, never blocking an acquire.
    intentExpiresAt: parseTime(value(reapTagKey(stackName))?.split(' ')[0]),
  };
}

export async function writeLease(ec2: EC2Client, vpcId: string, stackName: string, until: number) {
  await ec2.send(
    new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: leaseTagKey(stackName), Value: iso(until) }] }),
  );
}
