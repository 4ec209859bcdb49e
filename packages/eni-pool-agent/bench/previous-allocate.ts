// Frozen copy of the pool allocator before the claim order (issue 17): lowest free address first,
// after k lost races a random pick among the lowest 2^k. The burst benchmark runs it side by side
// with the current allocator. Not used by the package.
import {
  AttachNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type Filter,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import {
  DeadlineExceededError,
  describeError,
  isAwsError,
  isNotFoundError,
  isThrottlingError,
} from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { backoffDelay, type Clock, Deadline, pollUntil, retry } from '@netkit/aws-core/retry';
import { fromTagList, hasAllTags, tagFilters } from '@netkit/aws-core/tags';
import type { Pool } from '../src/config.ts';
import {
  AttachmentLimitError,
  AttachTimeoutError,
  DeviceIndexTakenError,
  InstanceNotFoundError,
  PoolExhaustedError,
  RaceUnsettledError,
} from '../src/errors.ts';
import { compareIps } from '../src/ip.ts';

/** Time allowed for cleanup after a failure, on top of the allocation deadline. */
export const CLEANUP_MS = 15_000;

/** One pool ENI as the core sees it. */
export interface PoolEni {
  networkInterfaceId: string;
  privateIp: string;
  availabilityZone: string;
  status: string;
  subnetId?: string;
  hostname?: string;
  attachment?: {
    attachmentId: string;
    instanceId?: string;
    deviceIndex?: number;
    status?: string;
    deleteOnTermination?: boolean;
  };
}

export interface CoreDeps {
  ec2: EC2Client;
  clock: Clock;
  logger: Logger;
  /** Randomness in [0, 1) for spreading retries after a lost race; injectable for tests. */
  random?: () => number;
}

/** What one allocation did. */
export interface Allocation {
  /** `attached`: this call claimed the ENI; `already-held`: the instance held a pool ENI already. */
  outcome: 'attached' | 'already-held';
  instanceId: string;
  availabilityZone: string;
  eni: PoolEni;
  /** AttachNetworkInterface calls made (0 when already held). */
  attempts: number;
  /** Attach calls lost to another instance (InvalidNetworkInterface.InUse). */
  collisions: number;
  /** Pool ENIs in the AZ and how many are still free, when known. */
  gauge?: { size: number; free: number };
}

/** The instance's own interfaces: its AZ, a pool ENI it already holds, what occupies the device index. */
export interface InstanceView {
  instanceId: string;
  availabilityZone: string;
  held: PoolEni[];
  /** A non-pool interface at the configured device index. */
  occupant?: PoolEni;
}

/** Read an ENI from EC2's shape. */
export function toPoolEni(ni: NetworkInterface, hostnameTag: string): PoolEni {
  const tags = fromTagList(ni.TagSet);
  const eni: PoolEni = {
    networkInterfaceId: ni.NetworkInterfaceId ?? '',
    privateIp: ni.PrivateIpAddress ?? '',
    availabilityZone: ni.AvailabilityZone ?? '',
    status: ni.Status ?? 'unknown',
  };
  if (ni.SubnetId) eni.subnetId = ni.SubnetId;
  const hostname = tags[hostnameTag];
  if (hostname) eni.hostname = hostname;
  if (ni.Attachment?.AttachmentId) {
    eni.attachment = { attachmentId: ni.Attachment.AttachmentId };
    if (ni.Attachment.InstanceId) eni.attachment.instanceId = ni.Attachment.InstanceId;
    if (ni.Attachment.DeviceIndex !== undefined) eni.attachment.deviceIndex = ni.Attachment.DeviceIndex;
    if (ni.Attachment.Status) eni.attachment.status = ni.Attachment.Status;
    if (ni.Attachment.DeleteOnTermination !== undefined) {
      eni.attachment.deleteOnTermination = ni.Attachment.DeleteOnTermination;
    }
  }
  return eni;
}

/** Lowest private IP first, numerically (10.0.0.9 before 10.0.0.10), then by id for a stable order. */
export function byPrivateIp(a: PoolEni, b: PoolEni): number {
  return compareIps(a.privateIp, b.privateIp) || a.networkInterfaceId.localeCompare(b.networkInterfaceId);
}

/** Run an EC2 call, retrying throttling (and any extra `retryable`) with backoff until the deadline. */
export function ec2Call<T>(
  fn: () => Promise<T>,
  deps: Pick<CoreDeps, 'clock' | 'random'>,
  deadline: Deadline,
  retryable: (error: unknown) => boolean = () => false,
): Promise<T> {
  return retry(fn, {
    retryable: (error) => isThrottlingError(error) || retryable(error),
    deadline,
    clock: deps.clock,
    baseMs: 250,
    maxMs: 5_000,
    ...(deps.random ? { random: deps.random } : {}),
  });
}

/** DescribeNetworkInterfaces with server-side filters, every page. */
export async function describeEnis(
  deps: Pick<CoreDeps, 'ec2' | 'clock' | 'random'>,
  deadline: Deadline,
  input: { Filters?: Filter[]; NetworkInterfaceIds?: string[] },
): Promise<NetworkInterface[]> {
  const out: NetworkInterface[] = [];
  let token: string | undefined;
  do {
    const page = await ec2Call(
      () =>
        deps.ec2.send(
          new DescribeNetworkInterfacesCommand(token === undefined ? input : { ...input, NextToken: token }),
        ),
      deps,
      deadline,
    );
    out.push(...(page.NetworkInterfaces ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/** The pool's ENIs in one AZ (optionally only `available` ones), lowest private IP first. */
export async function describePool(
  deps: Pick<CoreDeps, 'ec2' | 'clock' | 'random'>,
  pool: Pool,
  availabilityZone: string,
  deadline: Deadline,
  onlyAvailable: boolean,
): Promise<PoolEni[]> {
  const filters: Filter[] = [
    ...tagFilters(pool.tags),
    { Name: 'availability-zone', Values: [availabilityZone] },
  ];
  if (onlyAvailable) filters.push({ Name: 'status', Values: ['available'] });
  const enis = await describeEnis(deps, deadline, { Filters: filters });
  return enis.map((ni) => toPoolEni(ni, pool.hostnameTag)).sort(byPrivateIp);
}

/** One DescribeNetworkInterfaces filtered by the instance: its AZ, held pool ENIs, device index occupant. */
export async function inspectInstance(
  deps: Pick<CoreDeps, 'ec2' | 'clock' | 'random'>,
  pool: Pool,
  instanceId: string,
  deadline: Deadline,
): Promise<InstanceView> {
  const enis = await describeEnis(deps, deadline, {
    Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
  });
  const own = enis.filter((ni) => ni.Attachment?.InstanceId === instanceId);
  const first = own[0];
  if (first?.AvailabilityZone === undefined) {
    throw new InstanceNotFoundError(
      `Instance ${instanceId} has no network interface: it does not exist, is terminated or is in another Region`,
    );
  }
  const view: InstanceView = { instanceId, availabilityZone: first.AvailabilityZone, held: [] };
  for (const ni of own) {
    const eni = toPoolEni(ni, pool.hostnameTag);
    if (hasAllTags(ni.TagSet, pool.tags)) view.held.push(eni);
    else if (ni.Attachment?.DeviceIndex === pool.deviceIndex) view.occupant = eni;
  }
  view.held.sort(byPrivateIp);
  return view;
}

/** How long EC2 may take to list a just-launched instance's interfaces (eventual consistency). */
export const INSTANCE_VISIBLE_WITHIN_MS = 20_000;
/** How long a lost device-index race waits for Describe to show the winner. */
export const RACE_SETTLE_MS = 10_000;

function earliest(a: Deadline, b: Deadline): Deadline {
  return a.at <= b.at ? a : b;
}

/**
 * inspectInstance, describing again with backoff while EC2 does not list the instance's
 * interfaces yet: right after launch one empty answer proves nothing. Gives up (the instance
 * really is gone) after INSTANCE_VISIBLE_WITHIN_MS or at the deadline.
 */
export async function inspectVisibleInstance(
  deps: CoreDeps,
  pool: Pool,
  instanceId: string,
  deadline: Deadline,
): Promise<InstanceView> {
  const window = earliest(deadline, Deadline.in(INSTANCE_VISIBLE_WITHIN_MS, deps.clock));
  for (let attempt = 0; ; attempt++) {
    try {
      return await inspectInstance(deps, pool, instanceId, deadline);
    } catch (error) {
      if (!(error instanceof InstanceNotFoundError)) throw error;
      const delay = Math.min(
        backoffDelay(attempt, { baseMs: 500, maxMs: 4_000, ...(deps.random ? { random: deps.random } : {}) }),
        window.remaining(),
      );
      if (delay <= 0 || window.expired()) throw error;
      deps.logger.info('EC2 does not list the instance yet (eventual consistency); describing again', {
        instanceId,
        delayMs: delay,
      });
      await deps.clock.sleep(delay);
    }
  }
}

/**
 * After a lost device-index race: describe (with backoff, briefly) until the instance shows a
 * pool ENI (a concurrent delivery of the same event won) or a non-pool occupant at the index.
 */
async function settleRace(
  deps: CoreDeps,
  pool: Pool,
  instanceId: string,
  deadline: Deadline,
): Promise<InstanceView | undefined> {
  const window = earliest(deadline, Deadline.in(RACE_SETTLE_MS, deps.clock));
  for (let attempt = 0; ; attempt++) {
    let view: InstanceView | undefined;
    try {
      view = await inspectInstance(deps, pool, instanceId, deadline);
    } catch (error) {
      if (!(error instanceof InstanceNotFoundError)) throw error;
    }
    if (view !== undefined && (view.held.length > 0 || view.occupant !== undefined)) return view;
    const delay = Math.min(
      backoffDelay(attempt, { baseMs: 250, maxMs: 2_000, ...(deps.random ? { random: deps.random } : {}) }),
      window.remaining(),
    );
    if (delay <= 0 || window.expired()) return view;
    await deps.clock.sleep(delay);
  }
}

/**
 * Pool ENIs must return to the pool when the instance ends: AttachNetworkInterface
 * leaves DeleteOnTermination false, but fix it if someone turned it on.
 */
async function keepOnTermination(deps: CoreDeps, eni: PoolEni, deadline: Deadline): Promise<void> {
  if (eni.attachment?.deleteOnTermination !== true) return;
  await ec2Call(
    () =>
      deps.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni.networkInterfaceId,
          Attachment: { AttachmentId: eni.attachment?.attachmentId, DeleteOnTermination: false },
        }),
      ),
    deps,
    deadline,
  );
  eni.attachment.deleteOnTermination = false;
  deps.logger.warn('Pool ENI had DeleteOnTermination=true; set it back to false', {
    networkInterfaceId: eni.networkInterfaceId,
  });
}

/** Wait until `eni` is `attached` to `instanceId`; returns the ENI and the AZ's pool gauge. */
async function waitAttached(
  deps: CoreDeps,
  pool: Pool,
  instanceId: string,
  availabilityZone: string,
  networkInterfaceId: string,
  deadline: Deadline,
): Promise<{ eni: PoolEni; gauge: { size: number; free: number } }> {
  return pollUntil(
    async () => {
      // One call filtered by pool tags and AZ: the attachment state and the pool gauge together.
      const enis = await describePool(deps, pool, availabilityZone, deadline, false);
      const eni = enis.find((e) => e.networkInterfaceId === networkInterfaceId);
      const attachment = eni?.attachment;
      if (eni === undefined || (attachment !== undefined && attachment.instanceId !== instanceId)) {
        throw new AttachTimeoutError(`Pool ENI ${networkInterfaceId} is no longer attached to ${instanceId}`);
      }
      if (attachment?.status !== 'attached') return undefined;
      return {
        eni,
        gauge: { size: enis.length, free: enis.filter((e) => e.status === 'available').length },
      };
    },
    { deadline, clock: deps.clock, what: `${networkInterfaceId} to be attached`, baseMs: 500, maxMs: 4_000 },
  );
}

async function detach(deps: CoreDeps, eni: PoolEni, deadline: Deadline): Promise<void> {
  const attachmentId = eni.attachment?.attachmentId;
  if (attachmentId === undefined) return;
  try {
    await ec2Call(
      () => deps.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId })),
      deps,
      deadline,
    );
  } catch (error) {
    if (isAwsError(error, 'InvalidAttachmentID.NotFound') || isNotFoundError(error)) return;
    throw error;
  }
}

/**
 * Claim one pool ENI for `instanceId`: the lowest private IP among the pool's
 * `available` ENIs in the instance's AZ. The attach is the lock: EC2 refuses an
 * in-use ENI, so a lost race (InvalidNetworkInterface.InUse) moves on to a fresh
 * list. After k lost races the next pick is spread over the lowest 2^k free ENIs,
 * so a burst of N launches costs O(log N) attach calls each instead of O(N),
 * while a launch without contention always takes the lowest address.
 *
 * Idempotent: an instance that already holds a pool ENI gets it back with no attach.
 */
export async function allocate(
  input: { instanceId: string; availabilityZone?: string },
  pool: Pool,
  deps: CoreDeps,
  deadline: Deadline,
): Promise<Allocation> {
  const { instanceId } = input;
  const random = deps.random ?? Math.random;
  const view = await inspectVisibleInstance(deps, pool, instanceId, deadline);
  const availabilityZone = view.availabilityZone;
  if (input.availabilityZone !== undefined && input.availabilityZone !== availabilityZone) {
    deps.logger.warn('Instance metadata and EC2 disagree on the Availability Zone; using EC2', {
      instanceId,
      metadata: input.availabilityZone,
      ec2: availabilityZone,
    });
  }
  const held = view.held[0];
  if (held !== undefined) {
    await keepOnTermination(deps, held, deadline);
    deps.logger.info('Instance already holds a pool ENI; nothing to attach', {
      instanceId,
      networkInterfaceId: held.networkInterfaceId,
      privateIp: held.privateIp,
    });
    return { outcome: 'already-held', instanceId, availabilityZone, eni: held, attempts: 0, collisions: 0 };
  }
  if (view.occupant !== undefined) {
    throw new DeviceIndexTakenError(
      `Instance ${instanceId} already has ${view.occupant.networkInterfaceId} (not a pool ENI) at device index ${pool.deviceIndex}; set DEVICE_INDEX to a free index`,
    );
  }

  let attempts = 0;
  let collisions = 0;
  let emptyPolls = 0;
  for (;;) {
    if (deadline.expired()) {
      throw new DeadlineExceededError(
        `Gave up claiming a pool ENI for ${instanceId} after ${attempts} attach attempts`,
      );
    }
    const candidates = await describePool(deps, pool, availabilityZone, deadline, true);
    if (candidates.length === 0) {
      const delay = backoffDelay(emptyPolls++, { baseMs: 1_000, maxMs: 10_000, random });
      if (delay >= deadline.remaining()) {
        throw new PoolExhaustedError(
          `No available pool ENI in ${availabilityZone} for ${instanceId} (pool tags ${JSON.stringify(pool.tags)}); add ENIs to the pool or lower the group's capacity`,
          availabilityZone,
        );
      }
      deps.logger.info('No available pool ENI yet; waiting', {
        instanceId,
        availabilityZone,
        delayMs: delay,
      });
      await deps.clock.sleep(delay);
      continue;
    }
    const window = Math.min(candidates.length, 2 ** collisions);
    const pick = candidates[collisions === 0 ? 0 : Math.min(window - 1, Math.floor(random() * window))]!;
    attempts++;
    let attachmentId: string;
    try {
      const out = await ec2Call(
        () =>
          deps.ec2.send(
            new AttachNetworkInterfaceCommand({
              InstanceId: instanceId,
              NetworkInterfaceId: pick.networkInterfaceId,
              DeviceIndex: pool.deviceIndex,
            }),
          ),
        deps,
        deadline,
        // A launching instance can still be `pending`.
        (error) => isAwsError(error, 'IncorrectInstanceState'),
      );
      attachmentId = out.AttachmentId ?? '';
    } catch (error) {
      if (isAwsError(error, 'InvalidNetworkInterface.InUse', 'InvalidNetworkInterfaceID.NotFound')) {
        collisions++;
        deps.logger.debug('Lost the race for a pool ENI; trying another', {
          instanceId,
          networkInterfaceId: pick.networkInterfaceId,
          collisions,
        });
        continue;
      }
      if (isAwsError(error, 'InvalidParameterValue')) {
        // Device index taken: a duplicate invocation for the same instance may have just won,
        // and Describe may not show it yet (eventual consistency): poll briefly.
        const again = await settleRace(deps, pool, instanceId, deadline);
        const mine = again?.held[0];
        if (mine !== undefined) {
          return {
            outcome: 'already-held',
            instanceId,
            availabilityZone,
            eni: mine,
            attempts,
            collisions,
          };
        }
        if (again?.occupant === undefined) {
          // Taken, but Describe still shows no one there: never ABANDON a healthy instance on a
          // stale read. Fail this invocation; the retry finds the winner's ENI.
          throw new RaceUnsettledError(
            `Device index ${pool.deviceIndex} of ${instanceId} is taken but EC2 does not show by whom yet (${describeError(error)}); leaving the event to be retried`,
          );
        }
        throw new DeviceIndexTakenError(
          `Cannot attach at device index ${pool.deviceIndex} of ${instanceId}: ${describeError(error)}`,
        );
      }
      if (isAwsError(error, 'AttachmentLimitExceeded')) {
        throw new AttachmentLimitError(
          `Instance ${instanceId} cannot take another network interface: ${describeError(error)}; use a larger instance type`,
        );
      }
      throw error;
    }
    const claimed: PoolEni = {
      ...pick,
      status: 'in-use',
      attachment: { attachmentId, instanceId, deviceIndex: pool.deviceIndex, status: 'attaching' },
    };
    try {
      const { eni, gauge } = await waitAttached(
        deps,
        pool,
        instanceId,
        availabilityZone,
        pick.networkInterfaceId,
        deadline,
      );
      await keepOnTermination(deps, eni, deadline);
      deps.logger.info('Attached pool ENI', {
        instanceId,
        networkInterfaceId: eni.networkInterfaceId,
        privateIp: eni.privateIp,
        attempts,
        collisions,
      });
      return { outcome: 'attached', instanceId, availabilityZone, eni, attempts, collisions, gauge };
    } catch (error) {
      // Do not leave a half-claimed ENI behind: detach it so it returns to the pool.
      deps.logger.error('Attachment did not complete; detaching the pool ENI again', {
        instanceId,
        networkInterfaceId: pick.networkInterfaceId,
        error: describeError(error),
      });
      await detach(deps, claimed, Deadline.in(CLEANUP_MS, deps.clock)).catch((cleanupError: unknown) =>
        deps.logger.error('Could not detach the pool ENI; it returns to the pool when the instance ends', {
          networkInterfaceId: pick.networkInterfaceId,
          error: describeError(cleanupError),
        }),
      );
      if (error instanceof DeadlineExceededError) {
        throw new AttachTimeoutError(
          `${pick.networkInterfaceId} did not reach "attached" on ${instanceId} in time; detached it again`,
        );
      }
      throw error;
    }
  }
}

/** What releasing an instance's pool ENIs did. */
export interface Release {
  instanceId: string;
  /** Pool ENIs detached by this call (empty on redelivery or when the instance held none). */
  detached: PoolEni[];
}

/**
 * Detach the pool ENIs an instance holds and wait until they are `available`,
 * so a replacement can take them at once (the terminate hook). Idempotent:
 * nothing held, or already detached, is success.
 */
export async function release(
  instanceId: string,
  pool: Pool,
  deps: CoreDeps,
  deadline: Deadline,
): Promise<Release> {
  let view: InstanceView;
  try {
    view = await inspectInstance(deps, pool, instanceId, deadline);
  } catch (error) {
    if (error instanceof InstanceNotFoundError) return { instanceId, detached: [] };
    throw error;
  }
  for (const eni of view.held) await detach(deps, eni, deadline);
  if (view.held.length > 0) {
    const ids = view.held.map((e) => e.networkInterfaceId);
    await pollUntil(
      async () => {
        const enis = await describeEnis(deps, deadline, { NetworkInterfaceIds: ids });
        return enis.every((ni) => ni.Status === 'available') ? true : undefined;
      },
      { deadline, clock: deps.clock, what: `${ids.join(', ')} to be available`, baseMs: 500, maxMs: 4_000 },
    );
    deps.logger.info('Detached pool ENIs', { instanceId, networkInterfaceIds: ids });
  }
  return { instanceId, detached: view.held };
}
