/**
 * The reaper's side of the lease protocol (lease.ts): its delete intent, written before it reads the
 * lease and removed only if it is still its own. Apart from lease.ts so that acquire's bundle carries
 * no DeleteTags.
 */
import { CreateTagsCommand, DeleteTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { iso, type ReapIntent, reapTagKey } from './lease.ts';

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
