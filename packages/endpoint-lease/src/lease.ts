/**
 * Lease and reap-intent records, kept as two tags on the VPC (which outlives every endpoint stack):
 *
 *   netkit:endpoint-lease:<stack> = <ISO time the lease ends>
 *   netkit:endpoint-reap:<stack>  = <ISO time the reaper's delete intent expires> <reaper id>
 *
 * Acquire writes its lease, then reads the intent; the reaper writes its intent, then reads the
 * lease (after a settle delay). Whichever writes second is seen by the other (see README, "Lease
 * safety"), so the reaper never deletes a stack an acquire is about to use.
 */
import { CreateTagsCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';

export const LEASE_TAG_PREFIX = 'netkit:endpoint-lease:';
export const REAP_TAG_PREFIX = 'netkit:endpoint-reap:';

export const leaseTagKey = (stackName: string) => `${LEASE_TAG_PREFIX}${stackName}`;
export const reapTagKey = (stackName: string) => `${REAP_TAG_PREFIX}${stackName}`;

export interface ReapIntent {
  expiresAt: number;
  owner: string;
  /** The raw tag value, for the conditional DeleteTags. */
  raw: string;
}

export interface LeaseRecords {
  leaseUntil: number | undefined;
  intent: ReapIntent | undefined;
}

function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

export function parseIntent(raw: string | undefined): ReapIntent | undefined {
  if (raw === undefined) return undefined;
  const [time, owner = ''] = raw.split(' ');
  const expiresAt = parseTime(time);
  // An unreadable intent is treated as expired: it can never block an acquire forever.
  return expiresAt === undefined ? undefined : { expiresAt, owner, raw };
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** The `startedBy` of the package's tasks: the reaper lists running tasks by it (a live lease in use). */
export function startedByFor(stackName: string): string {
  // startedBy: up to 128 letters, digits, hyphens, underscores and slashes.
  return `endpoint-lease/${stackName}`.slice(0, 128);
}

/** One filtered DescribeTags call for both records. */
export async function readRecords(ec2: EC2Client, vpcId: string, stackName: string): Promise<LeaseRecords> {
  const out = await ec2.send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'resource-id', Values: [vpcId] },
        { Name: 'key', Values: [leaseTagKey(stackName), reapTagKey(stackName)] },
      ],
    }),
  );
  let leaseUntil: number | undefined;
  let intent: ReapIntent | undefined;
  for (const tag of out.Tags ?? []) {
    if (tag.Key === leaseTagKey(stackName)) leaseUntil = parseTime(tag.Value);
    if (tag.Key === reapTagKey(stackName)) intent = parseIntent(tag.Value);
  }
  return { leaseUntil, intent };
}

export async function writeLease(ec2: EC2Client, vpcId: string, stackName: string, until: number) {
  await ec2.send(
    new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: leaseTagKey(stackName), Value: iso(until) }] }),
  );
}
