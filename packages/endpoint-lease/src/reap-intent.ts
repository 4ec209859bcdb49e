/** The reaper's delete intent (lease.ts); apart from lease.ts so acquire's bundle carries no DeleteTags. */
import { CreateTagsCommand, DeleteTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { iso, reapTagKey } from './lease.ts';

/** `raw` is the tag value, kept for the conditional DeleteTags. */
export function makeIntent(expiresAt: number, owner: string) {
  const safeOwner = owner.replace(/[^A-Za-z0-9._:/=+@-]/g, '').slice(0, 64) || 'reaper';
  return { expiresAt, raw: `${iso(expiresAt)} ${safeOwner}` };
}

export type ReapIntent = ReturnType<typeof makeIntent>;

export async function writeIntent(ec2: EC2Client, vpcId: string, stackName: string, intent: ReapIntent) {
  const Tags = [{ Key: reapTagKey(stackName), Value: intent.raw }];
  await ec2.send(new CreateTagsCommand({ Resources: [vpcId], Tags }));
}

/** Removes the intent only if it is still ours (DeleteTags with a value is conditional). */
export async function clearIntent(ec2: EC2Client, vpcId: string, stackName: string, intent: ReapIntent) {
  const Tags = [{ Key: reapTagKey(stackName), Value: intent.raw }];
  await ec2.send(new DeleteTagsCommand({ Resources: [vpcId], Tags }));
}
