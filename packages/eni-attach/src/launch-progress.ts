import type { EC2Client, NetworkInterface } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import type { AttachmentSpec, Config } from './config.ts';
import { deleteInterface } from './delete-interface.ts';
import { ensureDeleteOnTermination } from './interfaces.ts';

/** How an interface came to be on the instance. */
export type InterfaceSource =
  | 'existing' // attached by an earlier delivery of this event
  | 'created' // created and attached by this invocation
  | 'reused' // created by an earlier, interrupted delivery and attached by this one
  | 'concurrent'; // attached by a concurrent delivery while this one was working

export interface AttachedInterface {
  deviceIndex: number;
  networkInterfaceId: string;
  subnetId: string;
  source: InterfaceSource;
}

/** One launch under way: what it attached and deleted, and the ENIs it holds unattached. */
export interface LaunchProgress {
  run: HookRun;
  ec2: EC2Client;
  config: Config;
  instanceId: string;
  interfaces: AttachedInterface[];
  deleted: string[];
  /** Created or picked up, not attached yet: deleted on a final failure, kept for a retry. */
  pending: Set<string>;
}

/** An interface in place: make sure it is deleted with the instance, and report it. */
export async function keepInterface(
  p: LaunchProgress,
  spec: AttachmentSpec,
  eni: NetworkInterface,
  source: InterfaceSource,
): Promise<void> {
  await ensureDeleteOnTermination(p.run, p.ec2, eni);
  p.interfaces.push({
    deviceIndex: spec.deviceIndex,
    networkInterfaceId: eni.NetworkInterfaceId!,
    subnetId: eni.SubnetId ?? '',
    source,
  });
}

export async function deleteIfUnattached(p: LaunchProgress, id: string): Promise<void> {
  const { run } = p;
  const log = { networkInterfaceId: id };
  try {
    const finish = run.deadlines.finish;
    const outcome = await deleteInterface((what, fn) => run.call(what, fn, [], finish), p.ec2, id);
    if (outcome === 'deleted') p.deleted.push(id);
    if (outcome === 'in-use') run.logger.info('Not deleting an interface that is now attached', log);
  } catch (error) {
    run.logger.error('Could not delete network interface; the sweeper will retry', {
      ...log,
      error: describeError(error),
    });
  }
}

/** Delete every ENI this invocation created or picked up and did not attach. */
export async function cleanUp(p: LaunchProgress): Promise<void> {
  for (const id of [...p.pending]) {
    await deleteIfUnattached(p, id);
    p.pending.delete(id);
  }
}
