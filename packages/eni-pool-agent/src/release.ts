import { DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describeError, isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import { awsCall, Deadline, pollUntil } from '@netkit/aws-core/retry';
import type { Pool } from './config.ts';
import type { Claimed } from './errors.ts';
import { type CoreDeps, callOptions, describeEnis, findInstance } from './read-pool.ts';

/** Time allowed to undo a claim after a failure, on top of the allocation deadline. */
const CLEANUP_MS = 15_000;

/** Detach the instance's pool ENIs and wait until they are `available`; returns those it detached. */
export async function release(instanceId: string, pool: Pool, deps: CoreDeps, deadline: Deadline) {
  const held = (await findInstance(deps, pool, instanceId, deadline))?.held ?? [];
  if (held.length === 0) return held;
  for (const { attachment } of held) if (attachment) await detach(deps, attachment.attachmentId, deadline);
  const ids = held.map((e) => e.networkInterfaceId);
  await pollUntil(
    async () => {
      const enis = await describeEnis(deps, deadline, { NetworkInterfaceIds: ids });
      return enis.every((ni) => ni.Status === 'available') ? true : undefined;
    },
    { deadline, clock: deps.clock, what: `${ids.join(', ')} to be available`, baseMs: 500, maxMs: 4_000 },
  );
  deps.logger.info('Detached pool ENIs', { instanceId, networkInterfaceIds: ids });
  return held;
}

/** Detach a half-claimed ENI so it returns to the pool; on failure it returns when the instance ends. */
export async function undoClaim(deps: CoreDeps, claim: Claimed): Promise<void> {
  deps.logger.warn('Detaching the pool ENI again', { ...claim });
  try {
    await detach(deps, claim.attachmentId, Deadline.in(CLEANUP_MS, deps.clock));
  } catch (error) {
    deps.logger.error('Could not detach the pool ENI; it returns to the pool when the instance ends', {
      networkInterfaceId: claim.networkInterfaceId,
      error: describeError(error),
    });
  }
}

/** Detach; an attachment already gone is success. */
async function detach(deps: CoreDeps, AttachmentId: string, deadline: Deadline): Promise<void> {
  try {
    const command = new DetachNetworkInterfaceCommand({ AttachmentId });
    await awsCall('DetachNetworkInterface', () => deps.ec2.send(command), callOptions(deps, deadline));
  } catch (error) {
    if (isAwsError(error, 'InvalidAttachmentID.NotFound') || isNotFoundError(error)) return;
    throw error;
  }
}
