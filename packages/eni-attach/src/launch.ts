import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  type Instance,
  type InstanceNetworkInterface,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { describeError, isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import {
  type CompletionOutcome,
  completeLifecycleAction,
  type LifecycleAction,
  LifecycleActionEndedError,
  type LifecycleResult,
} from '@netkit/aws-core/lifecycle';
import { pollUntil, settleRace } from '@netkit/aws-core/retry';
import { toTagList } from '@netkit/aws-core/tags';
import type { AttachmentSpec, Config } from './config.ts';
import { AbandonError, SubnetMapError } from './errors.ts';
import { clientToken, eniDescription, MANAGED_BY, TAG, tagValue } from './naming.ts';
import {
  attachedAt,
  type Deadlines,
  type Deps,
  describeOwnInterfaces,
  isTransientFailure,
  Run,
} from './run.ts';
import type { SubnetCatalog } from './subnets.ts';

export interface LaunchDeps extends Deps {
  /** Per-container cache of the SUBNET_MAP validation. */
  catalog: SubnetCatalog;
}

/** How an interface came to be on the instance. */
export type InterfaceSource =
  | 'existing' // already attached by an earlier delivery of this event
  | 'created' // created and attached by this invocation
  | 'reused' // created by an earlier, interrupted delivery and attached by this one
  | 'concurrent'; // attached by a concurrent delivery while this one was working

export interface AttachedInterface {
  deviceIndex: number;
  networkInterfaceId: string;
  subnetId: string;
  source: InterfaceSource;
}

/**
 * The lifecycle action ended while this invocation worked (hook timeout, or completed by another
 * delivery): it stopped, deleted the ENIs it had created or picked up but not attached, and did
 * not complete anything. Not retried: no later delivery can make the action live again.
 */
export interface EndedLaunch {
  status: 'ended';
  instanceId: string;
  reason: string;
  /** ENIs this invocation deleted because the instance will not own them. */
  deleted: string[];
  /** Attached interfaces stay: DeleteOnTermination removes them with the instance if it is abandoned. */
  interfaces: AttachedInterface[];
}

export interface LaunchReport {
  /**
   * `done`: completed CONTINUE with at least one interface attached now; `already-done`: completed
   * CONTINUE, every interface was already attached (a redelivery) or attached by a concurrent
   * delivery of the same event; `abandoned`: completed ABANDON.
   */
  status: 'done' | 'already-done' | 'abandoned';
  instanceId: string;
  result: LifecycleResult;
  /** Why the launch was abandoned (one clear sentence). */
  reason?: string;
  interfaces: AttachedInterface[];
  /** ENIs this invocation deleted while cleaning up or losing a race. */
  deleted: string[];
  completion: CompletionOutcome;
  heartbeats: number;
}

const GONE_STATES = new Set(['shutting-down', 'terminated']);
/** How long DescribeInstances may take to see a new instance (EC2 eventual consistency). */
const INSTANCE_VISIBLE_WITHIN_MS = 15_000;

/**
 * Launch lifecycle action: make sure every configured interface is attached at
 * its device index with DeleteOnTermination, then complete CONTINUE. A final
 * failure deletes what this invocation created and completes ABANDON; a
 * transient one (deadline, throttling) rethrows so the event is redelivered and
 * KEEPS the unattached ENIs it created: the retry sends the same ClientToken,
 * and EC2 answers a reused token with the first ENI even after it was deleted
 * (ec2-api-idempotency), so deleting it here would hand the retry a dead ENI.
 * The retry picks the kept ENI up by its tags; the sweeper deletes it if no
 * retry ever comes (its grace period outlasts the retries).
 */
export async function handleLaunch(
  action: LifecycleAction,
  config: Config,
  deps: LaunchDeps,
  deadlines: Deadlines,
): Promise<LaunchReport | EndedLaunch> {
  const run = new Run(deps, action, deadlines, config.heartbeatIntervalMs);
  const attempt = new LaunchAttempt(run, config, deps.catalog);
  let result: LifecycleResult = 'CONTINUE';
  let reason: string | undefined;
  try {
    await attempt.execute();
  } catch (error) {
    if (error instanceof LifecycleActionEndedError) {
      await attempt.cleanUp();
      run.logger.error(
        `Lifecycle action of ${action.instanceId} ended while attaching; stopped, not retrying, deleted the unattached ENIs`,
        {
          instanceId: action.instanceId,
          groupName: action.groupName,
          hookName: action.hookName,
          deleted: attempt.deleted,
          attached: attempt.interfaces.map((i) => i.networkInterfaceId),
        },
      );
      return {
        status: 'ended',
        instanceId: action.instanceId,
        reason: error.message,
        deleted: attempt.deleted,
        interfaces: attempt.interfaces,
      };
    }
    if (isTransientFailure(error)) {
      run.logger.warn(
        'Launch not finished; leaving the event to be redelivered and keeping unattached ENIs for the retry',
        {
          instanceId: action.instanceId,
          error: describeError(error),
          kept: attempt.unattached,
        },
      );
      throw error;
    }
    await attempt.cleanUp();
    result = 'ABANDON';
    reason = error instanceof Error ? error.message : String(error);
    if (!(error instanceof AbandonError) && !(error instanceof SubnetMapError)) reason = describeError(error);
    run.logger.error(`Abandoning launch of ${action.instanceId}: ${reason}`, {
      instanceId: action.instanceId,
      groupName: action.groupName,
      deleted: attempt.deleted,
    });
  }
  const completion = await run.call(
    'CompleteLifecycleAction',
    () => completeLifecycleAction(deps.autoscaling, action, result, run.logger),
    [],
    deadlines.finish,
  );
  const report: LaunchReport = {
    status:
      result === 'ABANDON'
        ? 'abandoned'
        : attempt.interfaces.every((i) => i.source === 'existing' || i.source === 'concurrent')
          ? 'already-done'
          : 'done',
    instanceId: action.instanceId,
    result,
    interfaces: result === 'CONTINUE' ? attempt.interfaces : [],
    deleted: attempt.deleted,
    completion,
    heartbeats: run.heartbeats,
  };
  if (reason !== undefined) report.reason = reason;
  return report;
}

class LaunchAttempt {
  readonly interfaces: AttachedInterface[] = [];
  readonly deleted: string[] = [];
  /** ENIs this invocation created or picked up that are not attached yet: deleted on failure. */
  private readonly pending = new Set<string>();
  private readonly instanceId: string;

  constructor(
    private readonly run: Run,
    private readonly config: Config,
    private readonly catalog: SubnetCatalog,
  ) {
    this.instanceId = run.action.instanceId;
  }

  private get ec2() {
    return this.run.deps.ec2;
  }

  async execute(): Promise<void> {
    const { attachments } = this.config;
    let own = await describeOwnInterfaces(this.run, this.instanceId);
    const done = attachments.map((spec) => attachedAt(own, this.instanceId, spec.deviceIndex));
    if (done.every((eni) => eni !== undefined)) {
      // Redelivery: everything is in place; only make sure of DeleteOnTermination.
      for (const [i, eni] of done.entries()) await this.keep(attachments[i]!, eni!, 'existing');
      return;
    }
    const subnets = await this.catalog.get(this.ec2);
    const instance = await this.describeInstance();
    const az = instance.Placement?.AvailabilityZone;
    if (!az) throw new AbandonError(`instance ${this.instanceId} has no Availability Zone`);
    for (const [i, spec] of attachments.entries()) {
      const existing = done[i];
      if (existing) {
        await this.keep(spec, existing, 'existing');
        continue;
      }
      const subnetId = spec.subnetMap[az];
      if (!subnetId || !subnets.has(subnetId)) {
        const where = attachments.length === 1 ? 'SUBNET_MAP' : `ATTACHMENTS deviceIndex ${spec.deviceIndex}`;
        throw new AbandonError(
          `Availability Zone ${az} of instance ${this.instanceId} is not in ${where} (mapped: ${Object.keys(spec.subnetMap).join(', ')})`,
        );
      }
      const occupant = this.foreignAt(instance, spec.deviceIndex, own);
      if (occupant) {
        throw new AbandonError(
          `device index ${spec.deviceIndex} of instance ${this.instanceId} already holds ${occupant.NetworkInterfaceId}, which eni-attach did not create`,
        );
      }
      own = await this.attachOne(spec, subnetId, own);
    }
  }

  /**
   * The interface at `deviceIndex` of `instance` when eni-attach did not create it: not in `own`
   * and without the description eni-attach gives its interfaces (`own` may predate the create of a
   * concurrent delivery of the same event, which Describe then lists on the instance first).
   */
  private foreignAt(
    instance: Instance,
    deviceIndex: number,
    own: readonly NetworkInterface[],
  ): InstanceNetworkInterface | undefined {
    const occupant = instance.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === deviceIndex);
    if (!occupant || own.some((e) => e.NetworkInterfaceId === occupant.NetworkInterfaceId)) return undefined;
    const ours = eniDescription(this.instanceId, deviceIndex, this.run.action.groupName);
    return occupant.Description === ours ? undefined : occupant;
  }

  private async describeInstance(): Promise<Instance> {
    let instance: Instance | undefined;
    try {
      const out = await this.run.call(
        'DescribeInstances',
        () => this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [this.instanceId] })),
        // Right after launch, DescribeInstances may not see the instance yet; a few seconds, not the whole budget.
        ['InvalidInstanceID.NotFound'],
        this.run.deadlines.work.within(INSTANCE_VISIBLE_WITHIN_MS),
      );
      instance = out.Reservations?.[0]?.Instances?.[0];
    } catch (error) {
      if (!isNotFoundError(error)) throw error;
    }
    if (!instance) throw new AbandonError(`instance ${this.instanceId} does not exist (terminated?)`);
    const state = instance.State?.Name;
    if (state && GONE_STATES.has(state)) throw new AbandonError(`instance ${this.instanceId} is ${state}`);
    return instance;
  }

  /** Create (or pick up) the ENI for one attachment, attach it, set DeleteOnTermination. */
  private async attachOne(
    spec: AttachmentSpec,
    subnetId: string,
    own: NetworkInterface[],
  ): Promise<NetworkInterface[]> {
    const { eni, source } = await this.obtain(spec, subnetId, own);
    const id = eni.NetworkInterfaceId!;
    await this.prepare(eni, spec);
    let attachmentId: string | undefined;
    try {
      attachmentId = await this.attach(id, spec, source);
    } catch (error) {
      if (!isAwsError(error, 'InvalidNetworkInterface.InUse', 'InvalidParameterValue')) throw error;
      return this.lostRace(id, spec, error);
    }
    if (!attachmentId) throw new AbandonError(`AttachNetworkInterface returned no attachment id for ${id}`);
    await this.setDeleteOnTermination(id, attachmentId);
    this.interfaces.push({ deviceIndex: spec.deviceIndex, networkInterfaceId: id, subnetId, source });
    this.run.logger.info('Attached network interface', {
      instanceId: this.instanceId,
      networkInterfaceId: id,
      deviceIndex: spec.deviceIndex,
      subnetId,
      source,
    });
    return own;
  }

  /** The ENI for one attachment: an unattached one left by an earlier delivery, or a new one. */
  private async obtain(
    spec: AttachmentSpec,
    subnetId: string,
    own: NetworkInterface[],
  ): Promise<{ eni: NetworkInterface; source: InterfaceSource }> {
    const leftover = own
      .filter(
        (e) =>
          e.Status === 'available' &&
          e.SubnetId === subnetId &&
          tagValue(e, TAG.deviceIndex) === String(spec.deviceIndex),
      )
      .sort((a, b) => (a.NetworkInterfaceId ?? '').localeCompare(b.NetworkInterfaceId ?? ''))[0];
    if (!leftover) return { eni: await this.create(spec, subnetId), source: 'created' };
    this.pending.add(leftover.NetworkInterfaceId!);
    this.run.logger.info('Reusing an unattached ENI from an earlier delivery', {
      instanceId: this.instanceId,
      networkInterfaceId: leftover.NetworkInterfaceId,
    });
    return { eni: leftover, source: 'reused' };
  }

  /** Wait until the ENI is available and set its source/destination check when configured. */
  private async prepare(eni: NetworkInterface, spec: AttachmentSpec): Promise<void> {
    const id = eni.NetworkInterfaceId!;
    const ready = eni.Status === 'available' ? eni : await this.waitAvailable(id);
    if (spec.sourceDestCheck === undefined || ready.SourceDestCheck === spec.sourceDestCheck) return;
    await this.run.call('ModifyNetworkInterfaceAttribute', () =>
      this.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: id,
          SourceDestCheck: { Value: spec.sourceDestCheck },
        }),
      ),
    );
  }

  /** AttachNetworkInterface at the spec's device index; returns the attachment id. */
  private async attach(
    id: string,
    spec: AttachmentSpec,
    source: InterfaceSource,
  ): Promise<string | undefined> {
    const out = await this.run.call(
      'AttachNetworkInterface',
      () =>
        this.ec2.send(
          new AttachNetworkInterfaceCommand({
            InstanceId: this.instanceId,
            NetworkInterfaceId: id,
            DeviceIndex: spec.deviceIndex,
          }),
        ),
      // NotFound is EC2's eventual consistency right after our own create; a reused ENI that
      // vanished (swept meanwhile) is not worth waiting for.
      source === 'created'
        ? ['IncorrectInstanceState', 'InvalidNetworkInterfaceID.NotFound']
        : ['IncorrectInstanceState'],
    );
    this.pending.delete(id);
    return out.AttachmentId;
  }

  /**
   * The attach was refused: a concurrent delivery of the same event may have attached its ENI (the
   * same one: one ClientToken) at the index, and EC2's Describe may not list that attachment yet.
   * Poll (aws-core settleRace, bounded by the deadline) until it shows; keep the winner, delete
   * ours and return the fresh listing. RaceUnsettledError (transient: the event is redelivered)
   * when it never shows: a lost race never ABANDONs a healthy instance. When the instance shows an
   * interface eni-attach did not create at the index, there was no race: the refusal stands.
   */
  private async lostRace(id: string, spec: AttachmentSpec, refusal: unknown): Promise<NetworkInterface[]> {
    const { latest, winner } = await settleRace(
      async () => {
        const latest = await describeOwnInterfaces(this.run, this.instanceId);
        const winner = attachedAt(latest, this.instanceId, spec.deviceIndex);
        if (winner !== undefined) return { latest, winner };
        if (this.foreignAt(await this.describeInstance(), spec.deviceIndex, latest)) throw refusal;
        return undefined;
      },
      {
        deadline: this.run.deadlines.work,
        clock: this.run.deps.clock,
        what: `the attachment at device index ${spec.deviceIndex} of ${this.instanceId}`,
        ...(this.run.deps.random ? { random: this.run.deps.random } : {}),
        onWait: () => this.run.beatIfDue(),
      },
    );
    if (winner.NetworkInterfaceId !== id) await this.deleteIfUnattached(id);
    this.pending.delete(id);
    this.run.logger.info('A concurrent delivery attached the interface first', {
      instanceId: this.instanceId,
      networkInterfaceId: winner.NetworkInterfaceId,
    });
    await this.keep(spec, winner, 'concurrent');
    return latest;
  }

  private async create(spec: AttachmentSpec, subnetId: string): Promise<NetworkInterface> {
    const { action } = this.run;
    const tags = {
      ...this.config.eniTags,
      [TAG.managedBy]: MANAGED_BY,
      [TAG.instanceId]: this.instanceId,
      [TAG.deviceIndex]: String(spec.deviceIndex),
      [TAG.group]: action.groupName,
      [TAG.hook]: action.hookName,
      // The event's time, not the clock: a retried create must send identical parameters.
      [TAG.createdAt]: action.time ?? new Date(this.run.deps.clock.now()).toISOString(),
    };
    try {
      const out = await this.run.call('CreateNetworkInterface', () =>
        this.ec2.send(
          new CreateNetworkInterfaceCommand({
            SubnetId: subnetId,
            Groups: spec.securityGroupIds,
            Description: eniDescription(this.instanceId, spec.deviceIndex, action.groupName),
            ClientToken: clientToken(this.instanceId, action.hookName, spec.deviceIndex),
            TagSpecifications: [{ ResourceType: 'network-interface', Tags: toTagList(tags) }],
          }),
        ),
      );
      const eni = out.NetworkInterface;
      if (!eni?.NetworkInterfaceId) throw new AbandonError('CreateNetworkInterface returned no interface');
      this.pending.add(eni.NetworkInterfaceId);
      return eni;
    } catch (error) {
      if (isAwsError(error, 'IdempotentParameterMismatch')) {
        throw new AbandonError(
          `an ENI was already created for ${this.instanceId} device ${spec.deviceIndex} with different parameters (configuration changed mid-launch?)`,
        );
      }
      throw error;
    }
  }

  private waitAvailable(id: string): Promise<NetworkInterface> {
    return pollUntil(
      async () => {
        try {
          const out = await this.run.call('DescribeNetworkInterfaces', () =>
            this.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] })),
          );
          const eni = out.NetworkInterfaces?.[0];
          return eni?.Status === 'available' ? eni : undefined;
        } catch (error) {
          if (isNotFoundError(error)) return undefined; // eventual consistency right after create
          throw error;
        }
      },
      {
        deadline: this.run.deadlines.work,
        clock: this.run.deps.clock,
        what: `network interface ${id} to become available`,
        baseMs: 250,
        maxMs: 4_000,
        ...(this.run.deps.random ? { random: this.run.deps.random } : {}),
        onWait: () => this.run.beatIfDue(),
      },
    );
  }

  private async setDeleteOnTermination(id: string, attachmentId: string): Promise<void> {
    await this.run.call(
      'ModifyNetworkInterfaceAttribute',
      () =>
        this.ec2.send(
          new ModifyNetworkInterfaceAttributeCommand({
            NetworkInterfaceId: id,
            Attachment: { AttachmentId: attachmentId, DeleteOnTermination: true },
          }),
        ),
      ['InvalidAttachmentID.NotFound'],
    );
  }

  /** An interface already in place: make sure it is deleted with the instance. */
  private async keep(spec: AttachmentSpec, eni: NetworkInterface, source: InterfaceSource): Promise<void> {
    const id = eni.NetworkInterfaceId!;
    if (eni.Attachment?.DeleteOnTermination !== true && eni.Attachment?.AttachmentId) {
      await this.setDeleteOnTermination(id, eni.Attachment.AttachmentId);
    }
    this.interfaces.push({
      deviceIndex: spec.deviceIndex,
      networkInterfaceId: id,
      subnetId: eni.SubnetId ?? '',
      source,
    });
  }

  private async deleteIfUnattached(id: string): Promise<void> {
    try {
      await this.run.call(
        'DeleteNetworkInterface',
        () => this.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })),
        [],
        this.run.deadlines.finish,
      );
      this.deleted.push(id);
    } catch (error) {
      if (isNotFoundError(error)) return;
      if (isAwsError(error, 'InvalidNetworkInterface.InUse')) {
        // A concurrent delivery attached it: it is in use, not an orphan.
        this.run.logger.info('Not deleting an interface that is now attached', { networkInterfaceId: id });
        return;
      }
      this.run.logger.error('Could not delete network interface; the sweeper will retry', {
        networkInterfaceId: id,
        error: describeError(error),
      });
    }
  }

  /** ENIs this invocation created or picked up that are not attached (kept for a retry). */
  get unattached(): string[] {
    return [...this.pending];
  }

  /** Delete every ENI this invocation created or picked up and did not attach. */
  async cleanUp(): Promise<void> {
    for (const id of [...this.pending]) {
      await this.deleteIfUnattached(id);
      this.pending.delete(id);
    }
  }
}
