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
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

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

export async function writeIntent(ec2: EC2Client, vpcId: string, stackName: string, intent: ReapIntent) {
  await ec2.send(
    new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: reapTagKey(stackName), Value: intent.raw }] }),
  );
}

export function makeIntent(expiresAt: number, owner: string): ReapIntent {
  const safeOwner = owner.replace(/[^A-Za-z0-9._:/=+@-]/g, '').slice(0, 64) || 'reaper';
  return { expiresAt, owner: safeOwner, raw: `${iso(expiresAt)} ${safeOwner}` };
}

/** Remove the intent only if it is still ours (DeleteTags with a value is conditional). */
export async function clearIntent(ec2: EC2Client, vpcId: string, stackName: string, intent: ReapIntent) {
  await ec2.send(
    new DeleteTagsCommand({ Resources: [vpcId], Tags: [{ Key: reapTagKey(stackName), Value: intent.raw }] }),
  );
}
