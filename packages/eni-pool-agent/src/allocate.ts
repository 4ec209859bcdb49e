import { AttachNetworkInterfaceCommand, ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { DeadlineExceededError, describeError, isAwsError } from '@netkit/aws-core/errors';
import { awsCall, collisionDelay, type Deadline, pollUntil, settleRace } from '@netkit/aws-core/retry';
import { claimPick, type Launch } from './claim-order.ts';
import type { Pool } from './config.ts';
import {
  AttachmentLimitError,
  AttachTimeoutError,
  DeviceIndexTakenError,
  PoolExhaustedError,
} from './errors.ts';
import { type LaunchView, readLaunches, relistLaunches } from './read-launches.ts';
import {
  byPrivateIp,
  type CoreDeps,
  callOptions,
  findInstance,
  gaugeOf,
  type InstanceView,
  inspectInstance,
  type PoolEni,
  readPool,
} from './read-pool.ts';
import { undoClaim } from './release.ts';

/** How long another launch still competes for the claim order (ATTACH_TIMEOUT_SECONDS <= 840 s). */
const CONTENTION_WINDOW_MS = 15 * 60_000;

interface AllocationInput {
  instanceId: string;
  groupName?: string;
  /** On a confirmation timeout, leave the claim to undo after the caller's own ABANDON (ADR 0086). */
  deferUndo?: boolean;
}

/** What one allocation did: `attached` now, or `already-held` before; attempts and lost races on the way. */
export interface Allocation {
  outcome: 'attached' | 'already-held';
  instanceId: string;
  availabilityZone: string;
  eni: PoolEni;
  attempts: number;
  collisions: number;
  gauge?: { size: number; free: number };
}

/** What the claim has seen and done so far. */
interface Claim extends Omit<Allocation, 'outcome' | 'eni' | 'gauge'> {
  pool: Pool;
  deps: CoreDeps;
  deadline: Deadline;
  random: () => number;
  deferUndo: boolean;
  /** Undefined without ec2:DescribeInstances: then `fallback` tells the AZ and what the instance holds. */
  launches: LaunchView | undefined;
  fallback: InstanceView | undefined;
  self: Launch;
}

/** A free pool ENI to attach, where it stands in the claim order. */
type Pick = { eni: PoolEni; rank: number; unserved: number };

/** What one attach did: claimed the ENI, lost the race, or found the instance served by a twin. */
type Attach =
  | { kind: 'attached'; attachmentId: string }
  | { kind: 'lost' }
  | { kind: 'held'; allocation: Allocation };

/** Claim a free pool ENI in the instance's AZ in the claim order (ADR 0055); the attach is the lock. */
export async function allocate(input: AllocationInput, pool: Pool, deps: CoreDeps, deadline: Deadline) {
  const { instanceId } = input;
  const seen = await observe(input, pool, deps, deadline);
  const settings = {
    pool,
    deps,
    deadline,
    random: deps.random ?? Math.random,
    deferUndo: input.deferUndo === true,
  };
  const claim: Claim = { instanceId, ...settings, ...seen, attempts: 0, collisions: 0 };
  for (;;) {
    const next = await nextPick(claim);
    if ('outcome' in next) return next;
    if (deadline.expired())
      throw new DeadlineExceededError(
        `Gave up claiming a pool ENI for ${instanceId} after ${claim.attempts} attach attempts`,
      );
    claim.attempts++;
    const attached = await attach(claim, next);
    if (attached.kind === 'held') return attached.allocation;
    if (attached.kind === 'attached') return confirm(claim, next, attached.attachmentId);
  }
}

/** The instance's AZ and the launches it competes with (or, without the permission, its interfaces). */
async function observe(input: AllocationInput, pool: Pool, deps: CoreDeps, deadline: Deadline) {
  const { instanceId } = input;
  let launches: LaunchView | undefined;
  let fallback: InstanceView | undefined;
  try {
    launches = await readLaunches(deps, instanceId, input.groupName, deadline);
  } catch (error) {
    if (!isAwsError(error, 'UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException')) throw error;
    deps.logger.warn(
      'Not allowed to call ec2:DescribeInstances; claiming without the claim order (add the permission to spread concurrent launches)',
      { instanceId, error: describeError(error) },
    );
    fallback = await inspectInstance(deps, pool, instanceId, deadline);
  }
  const availabilityZone = launches?.availabilityZone ?? fallback?.availabilityZone ?? '';
  return { launches, fallback, availabilityZone, self: launches?.self ?? { instanceId, launchTime: 0 } };
}

/** The ENI to attach next, waiting with backoff while none is free; or the ENI already held. */
async function nextPick(claim: Claim): Promise<Pick | Allocation> {
  const { deps, availabilityZone, instanceId } = claim;
  try {
    return await pollUntil(() => lookAtPool(claim), {
      deadline: claim.deadline,
      clock: deps.clock,
      what: 'a free pool ENI',
      baseMs: 1_000,
      maxMs: 10_000,
      random: claim.random,
      onWait: (_attempt, delayMs) =>
        deps.logger.info('No available pool ENI yet; waiting', { instanceId, availabilityZone, delayMs }),
    });
  } catch (error) {
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new PoolExhaustedError(
      `No available pool ENI in ${availabilityZone} for ${instanceId} (pool tags ${JSON.stringify(claim.pool.tags)}); add ENIs to the pool or lower the group's capacity`,
      availabilityZone,
    );
  }
}

/** One look at every pool ENI in the AZ: the ENI held already, or the pick among the free ones. */
async function lookAtPool(claim: Claim): Promise<Pick | Allocation | undefined> {
  const { deps, pool, launches, fallback, deadline, instanceId } = claim;
  const snapshot = await readPool(deps, pool, claim.availabilityZone, deadline);
  const held = snapshot.find((e) => e.attachment?.instanceId === instanceId) ?? fallback?.held[0];
  if (held !== undefined) {
    await keepOnTermination(deps, held, deadline);
    deps.logger.info('Instance already holds a pool ENI; nothing to attach', {
      instanceId,
      networkInterfaceId: held.networkInterfaceId,
      privateIp: held.privateIp,
    });
    return alreadyHeld(claim, held);
  }
  const occupant = fallback?.occupant ?? occupantOf(launches, snapshot, pool.deviceIndex);
  if (occupant !== undefined)
    throw new DeviceIndexTakenError(
      `Instance ${instanceId} already has ${occupant} (not a pool ENI) at device index ${pool.deviceIndex}; set DEVICE_INDEX to a free index`,
    );
  const { pick, rank, unserved } = claimPick({
    self: claim.self,
    launches: launches?.launches ?? [],
    pool: snapshot,
    windowMs: CONTENTION_WINDOW_MS,
    collisions: launches === undefined ? claim.collisions + 1 : claim.collisions,
    random: claim.random,
    compare: byPrivateIp,
  });
  return pick === undefined ? undefined : { eni: pick, rank, unserved };
}

function alreadyHeld(claim: Claim, eni: PoolEni): Allocation {
  const { instanceId, availabilityZone, attempts, collisions } = claim;
  return { outcome: 'already-held', instanceId, availabilityZone, eni, attempts, collisions };
}

/** A non-pool interface of the instance at the pool's device index, by id. */
function occupantOf(view: LaunchView | undefined, snapshot: PoolEni[], deviceIndex: number) {
  if (view === undefined) return undefined;
  const poolIds = new Set(snapshot.map((e) => e.networkInterfaceId));
  for (const [id, index] of view.interfaces) if (index === deviceIndex && !poolIds.has(id)) return id;
  return undefined;
}

async function attach(claim: Claim, pick: Pick): Promise<Attach> {
  const { deps, pool, deadline, instanceId } = claim;
  const command = new AttachNetworkInterfaceCommand({
    InstanceId: instanceId,
    NetworkInterfaceId: pick.eni.networkInterfaceId,
    DeviceIndex: pool.deviceIndex,
  });
  try {
    // A launching instance can still be `pending`.
    const options = callOptions(deps, deadline, ['IncorrectInstanceState']);
    const out = await awsCall('AttachNetworkInterface', () => deps.ec2.send(command), options);
    return { kind: 'attached', attachmentId: out.AttachmentId ?? '' };
  } catch (error) {
    if (isAwsError(error, 'InvalidNetworkInterface.InUse', 'InvalidNetworkInterfaceID.NotFound')) {
      await lostRace(claim, pick);
      return { kind: 'lost' };
    }
    if (isAwsError(error, 'InvalidParameterValue'))
      return { kind: 'held', allocation: await deviceIndexTaken(claim, error) };
    if (isAwsError(error, 'AttachmentLimitExceeded'))
      throw new AttachmentLimitError(
        `Instance ${instanceId} cannot take another network interface: ${describeError(error)}; use a larger instance type`,
      );
    throw error;
  }
}

/** Let the winners' attaches show, then (first loss only) list the launches again: this one missed one. */
async function lostRace(claim: Claim, pick: Pick): Promise<void> {
  const { deps, deadline } = claim;
  claim.collisions++;
  deps.logger.debug('Lost the race for a pool ENI; trying another', {
    instanceId: claim.instanceId,
    networkInterfaceId: pick.eni.networkInterfaceId,
    rank: pick.rank,
    unserved: pick.unserved,
    collisions: claim.collisions,
  });
  await deps.clock.sleep(Math.min(collisionDelay(claim.collisions, claim.random), deadline.remaining()));
  if (claim.launches !== undefined && claim.collisions === 1) {
    const listed = await relistLaunches(deps, claim.launches, deadline);
    if (listed !== undefined) claim.launches = { ...claim.launches, launches: listed };
  }
}

/** Device index taken: a twin may have won unseen; never ABANDON on a stale read (ADR 0086). */
async function deviceIndexTaken(claim: Claim, error: unknown): Promise<Allocation> {
  const { deps, pool, deadline, instanceId } = claim;
  const look = async () => {
    const view = await findInstance(deps, pool, instanceId, deadline);
    return view !== undefined && (view.held.length > 0 || view.occupant !== undefined) ? view : undefined;
  };
  const what = `who holds device index ${pool.deviceIndex} of ${instanceId}`;
  const settled = await settleRace(look, { deadline, clock: deps.clock, what, random: deps.random });
  const mine = settled.held[0];
  if (mine !== undefined) return alreadyHeld(claim, mine);
  throw new DeviceIndexTakenError(
    `Cannot attach at device index ${pool.deviceIndex} of ${instanceId}: ${describeError(error)}`,
  );
}

/** Wait until `attached`; on a timeout undo the claim (or leave it to a `deferUndo` caller). */
async function confirm(claim: Claim, pick: Pick, attachmentId: string): Promise<Allocation> {
  const { deps, availabilityZone, attempts, collisions, deadline, instanceId } = claim;
  const networkInterfaceId = pick.eni.networkInterfaceId;
  try {
    const { eni, gauge } = await waitAttached(claim, networkInterfaceId);
    await keepOnTermination(deps, eni, deadline);
    deps.logger.info('Attached pool ENI', {
      instanceId,
      networkInterfaceId,
      privateIp: eni.privateIp,
      attempts,
      collisions,
      rank: pick.rank,
    });
    return { outcome: 'attached', instanceId, availabilityZone, eni, attempts, collisions, gauge };
  } catch (error) {
    if (!(error instanceof DeadlineExceededError || error instanceof AttachTimeoutError)) throw error;
    const claimed = { networkInterfaceId, attachmentId, instanceId };
    deps.logger.error('Attachment did not complete', { ...claimed, error: describeError(error) });
    const late = `${networkInterfaceId} did not reach "attached" on ${instanceId} in time`;
    if (claim.deferUndo) throw new AttachTimeoutError(late, claimed);
    await undoClaim(deps, claimed);
    throw error instanceof DeadlineExceededError
      ? new AttachTimeoutError(`${late}; detached it again`)
      : error;
  }
}

/** Wait until the ENI is `attached` to the instance; one Describe of the AZ's pool gives the gauge too. */
function waitAttached(claim: Claim, networkInterfaceId: string) {
  const { deps, pool, deadline, availabilityZone, instanceId } = claim;
  const look = async () => {
    const enis = await readPool(deps, pool, availabilityZone, deadline);
    const eni = enis.find((e) => e.networkInterfaceId === networkInterfaceId);
    const attachment = eni?.attachment;
    if (eni === undefined || (attachment !== undefined && attachment.instanceId !== instanceId))
      throw new AttachTimeoutError(`Pool ENI ${networkInterfaceId} is no longer attached to ${instanceId}`);
    return attachment?.status === 'attached' ? { eni, gauge: gaugeOf(enis) } : undefined;
  };
  const what = `${networkInterfaceId} to be attached`;
  return pollUntil(look, { deadline, clock: deps.clock, what, baseMs: 500, maxMs: 4_000 });
}

/** Pool ENIs must return to the pool when the instance ends: turn DeleteOnTermination back off. */
async function keepOnTermination(deps: CoreDeps, eni: PoolEni, deadline: Deadline): Promise<void> {
  if (eni.attachment?.deleteOnTermination !== true) return;
  const command = new ModifyNetworkInterfaceAttributeCommand({
    NetworkInterfaceId: eni.networkInterfaceId,
    Attachment: { AttachmentId: eni.attachment.attachmentId, DeleteOnTermination: false },
  });
  await awsCall('ModifyNetworkInterfaceAttribute', () => deps.ec2.send(command), callOptions(deps, deadline));
  eni.attachment.deleteOnTermination = false;
  deps.logger.warn('Pool ENI had DeleteOnTermination=true; set it back to false', {
    networkInterfaceId: eni.networkInterfaceId,
  });
}
