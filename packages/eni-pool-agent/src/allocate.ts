import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type Filter,
  type Instance,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { DeadlineExceededError, describeError, isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, pollUntil, retryTransient, settleRace } from '@netkit/aws-core/retry';
import { fromTagList, hasAllTags, tagFilters } from '@netkit/aws-core/tags';
import { claimPick, type Launch } from './claim-order.ts';
import type { Pool } from './config.ts';
import {
  AttachmentLimitError,
  AttachTimeoutError,
  type Claimed,
  DeviceIndexTakenError,
  InstanceNotFoundError,
  PoolExhaustedError,
} from './errors.ts';
import { compareIps } from './ip.ts';

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

/**
 * Run an EC2 call, retrying transient errors (throttling, 5xx, network; plus the call's own
 * `transient` error names) with backoff until the deadline.
 */
export function ec2Call<T>(
  fn: () => Promise<T>,
  deps: Pick<CoreDeps, 'clock' | 'random'>,
  deadline: Deadline,
  transient: readonly string[] = [],
): Promise<T> {
  return retryTransient(fn, {
    transient,
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
  let notFound: InstanceNotFoundError | undefined;
  try {
    return await pollUntil(
      async () => {
        try {
          return await inspectInstance(deps, pool, instanceId, deadline);
        } catch (error) {
          if (!(error instanceof InstanceNotFoundError)) throw error;
          notFound = error;
          return undefined;
        }
      },
      untilListed(deps, instanceId, deadline),
    );
  } catch (error) {
    // Out of time: the instance really is gone; say so rather than "timed out".
    if (error instanceof DeadlineExceededError && notFound !== undefined) throw notFound;
    throw error;
  }
}

/** Backoff options for a wait, with the injected randomness when there is one. */
function jitter(deps: Pick<CoreDeps, 'random'>, baseMs: number, maxMs: number) {
  return { baseMs, maxMs, ...(deps.random ? { random: deps.random } : {}) };
}

/** Poll options while EC2 may not list a just-launched instance yet (eventual consistency). */
function untilListed(deps: CoreDeps, instanceId: string, deadline: Deadline) {
  return {
    deadline: deadline.within(INSTANCE_VISIBLE_WITHIN_MS),
    clock: deps.clock,
    what: `${instanceId} to be listed`,
    ...jitter(deps, 500, 4_000),
    onWait: (_attempt: number, delayMs: number) =>
      deps.logger.info('EC2 does not list the instance yet (eventual consistency); describing again', {
        instanceId,
        delayMs,
      }),
  };
}

/**
 * After a lost device-index race: describe (with backoff, briefly: aws-core's settleRace) until the
 * instance shows a pool ENI (a concurrent delivery of the same event won) or a non-pool occupant
 * at the index; RaceUnsettledError (transient, never ABANDON) when Describe shows neither in time.
 */
function settleDeviceIndex(
  deps: CoreDeps,
  pool: Pool,
  instanceId: string,
  deadline: Deadline,
): Promise<InstanceView> {
  return settleRace(
    async () => {
      let view: InstanceView;
      try {
        view = await inspectInstance(deps, pool, instanceId, deadline);
      } catch (error) {
        if (error instanceof InstanceNotFoundError) return undefined;
        throw error;
      }
      return view.held.length > 0 || view.occupant !== undefined ? view : undefined;
    },
    {
      deadline,
      clock: deps.clock,
      what: `who holds device index ${pool.deviceIndex} of ${instanceId}`,
      windowMs: RACE_SETTLE_MS,
      ...jitter(deps, 250, 2_000),
    },
  );
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

/** The tag Auto Scaling puts on every instance of a group (at launch, with the instance). */
export const GROUP_TAG = 'aws:autoscaling:groupName';
/**
 * How far back another launch of the group still competes with this one for the claim order: a
 * launch either gets its ENI or gives up within ATTACH_TIMEOUT_SECONDS (at most 840 s, one Lambda
 * invocation). Older instances without a pool ENI (e.g. an agent that failed) no longer shift picks.
 */
export const CONTENTION_WINDOW_MS = 15 * 60_000;

/** This instance and the launches it competes with, from DescribeInstances. */
export interface LaunchView {
  self: Launch;
  availabilityZone: string;
  /** The Auto Scaling group (from the instance's tag), when it has one. */
  groupName?: string;
  /** The instance's interfaces: id -> device index. */
  interfaces: Map<string, number>;
  /** The group's pending and running instances in the AZ (self included when listed). */
  launches: Launch[];
}

async function describeInstances(
  deps: Pick<CoreDeps, 'ec2' | 'clock' | 'random'>,
  deadline: Deadline,
  filters: Filter[],
): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  do {
    const input: DescribeInstancesCommandInput = { Filters: filters, MaxResults: 1000 };
    if (token !== undefined) input.NextToken = token;
    const page = await ec2Call(() => deps.ec2.send(new DescribeInstancesCommand(input)), deps, deadline);
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

const LIVE_STATES = ['pending', 'running'];

function toLaunch(instance: Instance): Launch {
  return { instanceId: instance.InstanceId ?? '', launchTime: instance.LaunchTime?.getTime() ?? 0 };
}

function toLaunchView(self: Instance, listed: Instance[], availabilityZone: string): LaunchView {
  const interfaces = new Map<string, number>();
  for (const ni of self.NetworkInterfaces ?? []) {
    if (ni.NetworkInterfaceId !== undefined && ni.Attachment?.DeviceIndex !== undefined) {
      interfaces.set(ni.NetworkInterfaceId, ni.Attachment.DeviceIndex);
    }
  }
  const view: LaunchView = {
    self: toLaunch(self),
    availabilityZone,
    interfaces,
    launches: listed
      .filter(
        (i) =>
          i.Placement?.AvailabilityZone === availabilityZone && LIVE_STATES.includes(i.State?.Name ?? ''),
      )
      .map(toLaunch),
  };
  const groupName = fromTagList(self.Tags)[GROUP_TAG];
  if (groupName !== undefined) view.groupName = groupName;
  return view;
}

/** The group's pending and running instances (in one AZ when given): the launches that compete. */
async function describeGroup(
  deps: CoreDeps,
  groupName: string,
  availabilityZone: string | undefined,
  deadline: Deadline,
): Promise<Instance[]> {
  const filters: Filter[] = [
    { Name: `tag:${GROUP_TAG}`, Values: [groupName] },
    { Name: 'instance-state-name', Values: LIVE_STATES },
  ];
  if (availabilityZone !== undefined) filters.push({ Name: 'availability-zone', Values: [availabilityZone] });
  return describeInstances(deps, deadline, filters);
}

/**
 * See the instance and the other launches of its group in its AZ. With the group known (Lambda
 * mode: the event names it) one DescribeInstances of the group does both. Otherwise (the agent)
 * the instance is described by id, and its group tag names the group to list. Describes again
 * with backoff while EC2 does not list a just-launched instance (eventual consistency).
 */
export async function observeLaunches(
  deps: CoreDeps,
  instanceId: string,
  groupName: string | undefined,
  deadline: Deadline,
): Promise<LaunchView> {
  try {
    return await pollUntil(
      () => describeLaunches(deps, instanceId, groupName, deadline),
      untilListed(deps, instanceId, deadline),
    );
  } catch (error) {
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new InstanceNotFoundError(
      `Instance ${instanceId} is not listed by EC2: it does not exist, is terminated or is in another Region`,
    );
  }
}

/** One look at the instance and its group's launches; undefined while EC2 does not list it. */
async function describeLaunches(
  deps: CoreDeps,
  instanceId: string,
  groupName: string | undefined,
  deadline: Deadline,
): Promise<LaunchView | undefined> {
  if (groupName !== undefined) {
    const listed = await describeGroup(deps, groupName, undefined, deadline);
    const self = listed.find((i) => i.InstanceId === instanceId);
    const az = self?.Placement?.AvailabilityZone;
    if (self !== undefined && az !== undefined) return toLaunchView(self, listed, az);
  }
  const described = await describeInstances(deps, deadline, [{ Name: 'instance-id', Values: [instanceId] }]);
  const self = described.find((i) => i.InstanceId === instanceId);
  const az = self?.Placement?.AvailabilityZone;
  if (self === undefined || az === undefined) return undefined;
  const state = self.State?.Name ?? '';
  if (state === 'shutting-down' || state === 'terminated') {
    throw new InstanceNotFoundError(`Instance ${instanceId} is ${state}`);
  }
  const group = fromTagList(self.Tags)[GROUP_TAG];
  if (group === undefined) return toLaunchView(self, [self], az);
  return toLaunchView(self, await describeGroup(deps, group, az, deadline), az);
}

/** After losing an attach: wait a random 0..min(2 s, 250 ms * 2^(k-1)) so the winners' attaches show. */
export function collisionDelay(collisions: number, random: () => number): number {
  return Math.round(random() * Math.min(2_000, 250 * 2 ** Math.max(0, collisions - 1)));
}

/**
 * Claim one pool ENI for `instanceId` among the pool's `available` ENIs in the instance's AZ,
 * in the claim order of claim-order.ts: the free ENI at the instance's position among the
 * group's launches in the AZ that hold no pool ENI yet. A launch alone takes the lowest private
 * IP; concurrent launches pick different ENIs from the first attempt. The attach is the lock:
 * EC2 refuses an in-use ENI, so a lost race (InvalidNetworkInterface.InUse) re-reads the
 * launches and the pool and tries again (spreading further after repeated losses).
 *
 * Without ec2:DescribeInstances (an agent role from before the claim order) it falls back to
 * the lowest free address with the random spread after lost races.
 *
 * Idempotent: an instance that already holds a pool ENI gets it back with no attach.
 */
/** Who to allocate for. */
export interface AllocationInput {
  instanceId: string;
  availabilityZone?: string;
  groupName?: string;
  /**
   * On a confirmation timeout, leave the attachment in place (AttachTimeoutError.claim) for the
   * caller to undo with `undoClaim` only after an ABANDON it completed itself: a concurrent
   * delivery of the same event may have seen the ENI held and completed CONTINUE (ADR 0086).
   */
  deferUndo?: boolean;
}

export function allocate(
  input: AllocationInput,
  pool: Pool,
  deps: CoreDeps,
  deadline: Deadline,
): Promise<Allocation> {
  return new Claim(input, pool, deps, deadline).run();
}

/** A free pool ENI to attach, where it stands in the claim order. */
type Chosen = { eni: PoolEni; rank: number; unserved: number };

/** One allocation's steps: see the launches, pick a free ENI, attach it, confirm it (or clean up). */
class Claim {
  private readonly instanceId: string;
  private readonly random: () => number;
  private launches: LaunchView | undefined;
  /** Without the launch view, the instance's own interfaces tell its AZ and what it holds. */
  private fallback: InstanceView | undefined;
  private availabilityZone = '';
  private self: Launch;
  private attempts = 0;
  private collisions = 0;

  constructor(
    private readonly input: AllocationInput,
    private readonly pool: Pool,
    private readonly deps: CoreDeps,
    private readonly deadline: Deadline,
  ) {
    this.instanceId = input.instanceId;
    this.random = deps.random ?? Math.random;
    this.self = { instanceId: input.instanceId, launchTime: 0 };
  }

  async run(): Promise<Allocation> {
    await this.observe();
    for (;;) {
      const next = await this.nextPick();
      if ('outcome' in next) return next;
      if (this.deadline.expired()) {
        throw new DeadlineExceededError(
          `Gave up claiming a pool ENI for ${this.instanceId} after ${this.attempts} attach attempts`,
        );
      }
      this.attempts++;
      const attached = await this.attach(next);
      if (attached === undefined) continue;
      if (typeof attached !== 'string') return attached;
      return this.confirm(next, attached);
    }
  }

  /** The instance's AZ and the launches it competes with (or, without the permission, its interfaces). */
  private async observe(): Promise<void> {
    const { deps, instanceId } = this;
    try {
      this.launches = await observeLaunches(deps, instanceId, this.input.groupName, this.deadline);
    } catch (error) {
      if (!isAwsError(error, 'UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException')) throw error;
      deps.logger.warn(
        'Not allowed to call ec2:DescribeInstances; claiming without the claim order (add the permission to spread concurrent launches)',
        { instanceId, error: describeError(error) },
      );
    }
    if (this.launches === undefined) {
      this.fallback = await inspectVisibleInstance(deps, this.pool, instanceId, this.deadline);
    }
    this.availabilityZone = this.launches?.availabilityZone ?? this.fallback!.availabilityZone;
    const metadata = this.input.availabilityZone;
    if (metadata !== undefined && metadata !== this.availabilityZone) {
      deps.logger.warn('Instance metadata and EC2 disagree on the Availability Zone; using EC2', {
        instanceId,
        metadata,
        ec2: this.availabilityZone,
      });
    }
    if (this.launches !== undefined) this.self = this.launches.self;
  }

  /** The ENI to attach next, waiting (with backoff) while the pool has none free; or the ENI already held. */
  private async nextPick(): Promise<Chosen | Allocation> {
    try {
      return await pollUntil(() => this.lookAtPool(), {
        deadline: this.deadline,
        clock: this.deps.clock,
        what: 'a free pool ENI',
        baseMs: 1_000,
        maxMs: 10_000,
        random: this.random,
        onWait: (_attempt, delayMs) =>
          this.deps.logger.info('No available pool ENI yet; waiting', {
            instanceId: this.instanceId,
            availabilityZone: this.availabilityZone,
            delayMs,
          }),
      });
    } catch (error) {
      if (!(error instanceof DeadlineExceededError)) throw error;
      throw new PoolExhaustedError(
        `No available pool ENI in ${this.availabilityZone} for ${this.instanceId} (pool tags ${JSON.stringify(this.pool.tags)}); add ENIs to the pool or lower the group's capacity`,
        this.availabilityZone,
      );
    }
  }

  /** One look at every pool ENI in the AZ: the free ones, and which launches are served already. */
  private async lookAtPool(): Promise<Chosen | Allocation | undefined> {
    const { deps, pool, instanceId, launches } = this;
    const snapshot = await describePool(deps, pool, this.availabilityZone, this.deadline, false);
    const held = snapshot.find((e) => e.attachment?.instanceId === instanceId) ?? this.fallback?.held[0];
    if (held !== undefined) {
      await keepOnTermination(deps, held, this.deadline);
      deps.logger.info('Instance already holds a pool ENI; nothing to attach', {
        instanceId,
        networkInterfaceId: held.networkInterfaceId,
        privateIp: held.privateIp,
      });
      return this.alreadyHeld(held);
    }
    const occupant =
      this.fallback?.occupant?.networkInterfaceId ?? occupantOf(launches, snapshot, pool.deviceIndex);
    if (occupant !== undefined) {
      throw new DeviceIndexTakenError(
        `Instance ${instanceId} already has ${occupant} (not a pool ENI) at device index ${pool.deviceIndex}; set DEVICE_INDEX to a free index`,
      );
    }
    const claim = claimPick({
      self: this.self,
      launches: launches?.launches ?? [],
      pool: snapshot,
      windowMs: CONTENTION_WINDOW_MS,
      collisions: launches === undefined ? this.collisions + 1 : this.collisions,
      random: this.random,
      compare: byPrivateIp,
    });
    if (claim.pick === undefined) return undefined;
    return { eni: claim.pick, rank: claim.rank, unserved: claim.unserved };
  }

  private alreadyHeld(eni: PoolEni): Allocation {
    const { instanceId, availabilityZone, attempts, collisions } = this;
    return { outcome: 'already-held', instanceId, availabilityZone, eni, attempts, collisions };
  }

  /** Attach the pick: its attachment id, undefined after a lost race (try again), or the ENI a twin delivery won. */
  private async attach(pick: Chosen): Promise<string | Allocation | undefined> {
    try {
      const out = await ec2Call(
        () =>
          this.deps.ec2.send(
            new AttachNetworkInterfaceCommand({
              InstanceId: this.instanceId,
              NetworkInterfaceId: pick.eni.networkInterfaceId,
              DeviceIndex: this.pool.deviceIndex,
            }),
          ),
        this.deps,
        this.deadline,
        // A launching instance can still be `pending`.
        ['IncorrectInstanceState'],
      );
      return out.AttachmentId ?? '';
    } catch (error) {
      if (isAwsError(error, 'InvalidNetworkInterface.InUse', 'InvalidNetworkInterfaceID.NotFound')) {
        await this.lostRace(pick);
        return undefined;
      }
      if (isAwsError(error, 'InvalidParameterValue')) return this.deviceIndexTaken(error);
      if (isAwsError(error, 'AttachmentLimitExceeded')) {
        throw new AttachmentLimitError(
          `Instance ${this.instanceId} cannot take another network interface: ${describeError(error)}; use a larger instance type`,
        );
      }
      throw error;
    }
  }

  /** Let the winners' attaches show, then (first loss only) list the launches again. */
  private async lostRace(pick: Chosen): Promise<void> {
    const { deps, deadline } = this;
    this.collisions++;
    deps.logger.debug('Lost the race for a pool ENI; trying another', {
      instanceId: this.instanceId,
      networkInterfaceId: pick.eni.networkInterfaceId,
      rank: pick.rank,
      unserved: pick.unserved,
      collisions: this.collisions,
    });
    await deps.clock.sleep(
      Math.min(collisionDelay(this.collisions, this.random), Math.max(0, deadline.remaining())),
    );
    // The loss means this launch missed one that EC2 did not list yet.
    if (this.launches !== undefined && this.collisions === 1) {
      const listed = await describeGroupOf(deps, this.launches, deadline);
      if (listed !== undefined) this.launches = { ...this.launches, launches: listed };
    }
  }

  /**
   * Device index taken: a duplicate invocation for the same instance may have just won, and
   * Describe may not show it yet (eventual consistency): poll briefly.
   */
  private async deviceIndexTaken(error: unknown): Promise<Allocation> {
    const { instanceId, pool } = this;
    // Taken, but never ABANDON a healthy instance on a stale read: RaceUnsettledError fails this
    // invocation when Describe shows no one there yet, and the retry finds the winner's ENI.
    const again = await settleDeviceIndex(this.deps, pool, instanceId, this.deadline);
    const mine = again.held[0];
    if (mine !== undefined) return this.alreadyHeld(mine);
    throw new DeviceIndexTakenError(
      `Cannot attach at device index ${pool.deviceIndex} of ${instanceId}: ${describeError(error)}`,
    );
  }

  /**
   * Wait until the attachment is `attached`; if it does not get there in time (or moved), detach
   * the ENI again. Any other failure leaves it attached and rethrows.
   */
  private async confirm(pick: Chosen, attachmentId: string): Promise<Allocation> {
    const { deps, instanceId, availabilityZone, attempts, collisions } = this;
    try {
      const { eni, gauge } = await waitAttached(
        deps,
        this.pool,
        instanceId,
        availabilityZone,
        pick.eni.networkInterfaceId,
        this.deadline,
      );
      await keepOnTermination(deps, eni, this.deadline);
      deps.logger.info('Attached pool ENI', {
        instanceId,
        networkInterfaceId: eni.networkInterfaceId,
        privateIp: eni.privateIp,
        attempts,
        collisions,
        rank: pick.rank,
      });
      return { outcome: 'attached', instanceId, availabilityZone, eni, attempts, collisions, gauge };
    } catch (error) {
      // A transient failure (throttling, 5xx, a reset connection) says nothing about the
      // attachment: the ENI stays on this instance. A concurrent delivery of the same event may
      // already have seen it held and completed CONTINUE; the redelivery finds it held too.
      if (!(error instanceof DeadlineExceededError || error instanceof AttachTimeoutError)) throw error;
      const claim = { networkInterfaceId: pick.eni.networkInterfaceId, attachmentId, instanceId };
      deps.logger.error('Attachment did not complete', { ...claim, error: describeError(error) });
      if (this.input.deferUndo) {
        throw new AttachTimeoutError(
          `${claim.networkInterfaceId} did not reach "attached" on ${instanceId} in time`,
          claim,
        );
      }
      await undoClaim(deps, claim);
      if (error instanceof DeadlineExceededError) {
        throw new AttachTimeoutError(
          `${pick.eni.networkInterfaceId} did not reach "attached" on ${instanceId} in time; detached it again`,
        );
      }
      throw error;
    }
  }
}

/**
 * Do not leave a half-claimed ENI behind: detach it so it returns to the pool (within
 * CLEANUP_MS; a failure is logged, the ENI then returns when the instance ends).
 */
export async function undoClaim(deps: CoreDeps, claim: Claimed): Promise<void> {
  const { networkInterfaceId, attachmentId } = claim;
  deps.logger.warn('Detaching the pool ENI again', { ...claim });
  try {
    await ec2Call(
      () => deps.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId })),
      deps,
      Deadline.in(CLEANUP_MS, deps.clock),
    );
  } catch (error) {
    if (isAwsError(error, 'InvalidAttachmentID.NotFound') || isNotFoundError(error)) return;
    deps.logger.error('Could not detach the pool ENI; it returns to the pool when the instance ends', {
      networkInterfaceId,
      error: describeError(error),
    });
  }
}

/** A non-pool interface of the instance at the pool's device index, by id. */
function occupantOf(
  view: LaunchView | undefined,
  snapshot: PoolEni[],
  deviceIndex: number,
): string | undefined {
  if (view === undefined) return undefined;
  const poolIds = new Set(snapshot.map((e) => e.networkInterfaceId));
  for (const [id, index] of view.interfaces) if (index === deviceIndex && !poolIds.has(id)) return id;
  return undefined;
}

/** The group's launches in the AZ again (none to list for an instance outside a group). */
async function describeGroupOf(
  deps: CoreDeps,
  view: LaunchView,
  deadline: Deadline,
): Promise<Launch[] | undefined> {
  if (view.groupName === undefined) return undefined;
  const listed = await describeGroup(deps, view.groupName, view.availabilityZone, deadline);
  return listed.filter((i) => LIVE_STATES.includes(i.State?.Name ?? '')).map(toLaunch);
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
