import type { EC2Client } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import { LifecycleActionEndedError } from '@netkit/aws-core/lifecycle';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { attachInterface } from './attach-interface.ts';
import type { Config } from './config.ts';
import { describeInstance, foreignAt } from './describe-instance.ts';
import { AbandonError, isTransientFailure } from './errors.ts';
import { attachedAt, describeOwnInterfaces } from './interfaces.ts';
import { type AttachedInterface, cleanUp, keepInterface, type LaunchProgress } from './launch-progress.ts';
import type { SubnetCatalog } from './subnets.ts';

/** The action ended mid-launch: unattached ENIs deleted, attached ones kept (DeleteOnTermination). */
export type EndedLaunch = HandlerOutcome<'ended'> & {
  instanceId: string;
  reason: string;
  deleted: string[];
  interfaces: AttachedInterface[];
};

/** `already-done`: every interface was attached before (a redelivery) or by a concurrent delivery. */
export type LaunchReport = HandlerOutcome<'done' | 'already-done' | 'abandoned'> & {
  instanceId: string;
  result: 'CONTINUE' | 'ABANDON';
  interfaces: AttachedInterface[];
  deleted: string[];
};

/**
 * Launch: every configured interface attached at its device index with DeleteOnTermination, then
 * CONTINUE. A final failure deletes what this invocation created and ABANDONs; a transient one
 * rethrows (redelivery) and KEEPS the unattached ENIs for the retry's ClientToken (ADR 0011).
 */
export async function handleLaunch(
  run: HookRun,
  ec2: EC2Client,
  config: Config,
  catalog: SubnetCatalog,
): Promise<LaunchReport | EndedLaunch> {
  const { instanceId } = run.action;
  const p: LaunchProgress = { run, ec2, config, instanceId, interfaces: [], deleted: [], pending: new Set() };
  try {
    await attachAll(p, catalog);
  } catch (error) {
    return failed(p, error);
  }
  const { interfaces, deleted } = p;
  run.count('InterfacesCreated', interfaces.filter((i) => i.source === 'created').length);
  const before = interfaces.every((i) => i.source === 'existing' || i.source === 'concurrent');
  return { status: before ? 'already-done' : 'done', instanceId, result: 'CONTINUE', interfaces, deleted };
}

/** Ended: clean up and stop. Transient: keep the unattached ENIs and rethrow. Final: clean up, ABANDON. */
async function failed(p: LaunchProgress, error: unknown): Promise<LaunchReport | EndedLaunch> {
  const { run, instanceId, deleted, interfaces } = p;
  const log = { instanceId, groupName: run.action.groupName };
  if (error instanceof LifecycleActionEndedError) {
    await cleanUp(p);
    run.logger.error('Lifecycle action ended while attaching; deleted the unattached ENIs', {
      ...log,
      deleted,
      attached: interfaces.map((i) => i.networkInterfaceId),
    });
    return { status: 'ended', instanceId, reason: error.message, deleted, interfaces };
  }
  if (isTransientFailure(error)) {
    run.logger.warn('Launch not finished; left for redelivery, keeping unattached ENIs for the retry', {
      ...log,
      error: describeError(error),
      kept: [...p.pending],
    });
    throw error;
  }
  await cleanUp(p);
  const reason = error instanceof AbandonError ? error.message : describeError(error);
  run.logger.error(`Abandoning launch of ${instanceId}: ${reason}`, { ...log, deleted });
  run.count('InterfacesCreated', 0);
  return { status: 'abandoned', instanceId, result: 'ABANDON', reason, interfaces: [], deleted };
}

async function attachAll(p: LaunchProgress, catalog: SubnetCatalog): Promise<void> {
  const { attachments } = p.config;
  const { instanceId } = p;
  let own = await describeOwnInterfaces(p.run, p.ec2, instanceId);
  const done = attachments.map((spec) => attachedAt(own, instanceId, spec.deviceIndex));
  if (done.every((eni) => eni !== undefined)) {
    // Redelivery: everything is in place; only make sure of DeleteOnTermination.
    for (const [i, eni] of done.entries()) await keepInterface(p, attachments[i]!, eni!, 'existing');
    return;
  }
  await catalog.get(p.ec2);
  const instance = await describeInstance(p);
  const az = instance.Placement?.AvailabilityZone;
  if (!az) throw new AbandonError(`instance ${instanceId} has no Availability Zone`);
  for (const [i, spec] of attachments.entries()) {
    const existing = done[i];
    if (existing) {
      await keepInterface(p, spec, existing, 'existing');
      continue;
    }
    const subnetId = spec.subnetMap[az];
    if (!subnetId) {
      const where = attachments.length === 1 ? 'SUBNET_MAP' : `ATTACHMENTS deviceIndex ${spec.deviceIndex}`;
      const mapped = Object.keys(spec.subnetMap).join(', ');
      throw new AbandonError(
        `Availability Zone ${az} of instance ${instanceId} is not in ${where} (mapped: ${mapped})`,
      );
    }
    const occupant = foreignAt(p, instance, spec.deviceIndex, own);
    if (occupant)
      throw new AbandonError(
        `device index ${spec.deviceIndex} of instance ${instanceId} already holds ${occupant.NetworkInterfaceId}, which eni-attach did not create`,
      );
    own = await attachInterface(p, spec, subnetId, own);
  }
}
