import {
  type DescribeNetworkInterfacesCommandInput,
  type EC2Client,
  type NetworkInterface,
  paginateDescribeNetworkInterfaces,
} from '@aws-sdk/client-ec2';
import { DeadlineExceededError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { awsCall, type CallOptions, type Clock, type Deadline, pollUntil } from '@netkit/aws-core/retry';
import { fromTagList, hasAllTags, tagFilters } from '@netkit/aws-core/tags';
import type { Pool } from './config.ts';
import { InstanceNotFoundError } from './errors.ts';
import { compareIps } from './ip.ts';

/** One pool ENI as the core sees it. */
export interface PoolEni {
  networkInterfaceId: string;
  privateIp: string;
  availabilityZone: string;
  status: string;
  hostname?: string;
  attachment?: {
    attachmentId: string;
    instanceId?: string;
    status?: string;
    deleteOnTermination?: boolean;
  };
}

export interface CoreDeps {
  ec2: EC2Client;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export function callOptions(deps: CoreDeps, deadline: Deadline, transient: string[] = []): CallOptions {
  return { deadline, clock: deps.clock, random: deps.random, logger: deps.logger, transient };
}

export function toPoolEni(ni: NetworkInterface, hostnameTag: string): PoolEni {
  const a = ni.Attachment;
  return {
    networkInterfaceId: ni.NetworkInterfaceId ?? '',
    privateIp: ni.PrivateIpAddress ?? '',
    availabilityZone: ni.AvailabilityZone ?? '',
    status: ni.Status ?? 'unknown',
    hostname: fromTagList(ni.TagSet)[hostnameTag] || undefined,
    attachment: a?.AttachmentId
      ? {
          attachmentId: a.AttachmentId,
          instanceId: a.InstanceId,
          status: a.Status,
          deleteOnTermination: a.DeleteOnTermination,
        }
      : undefined,
  };
}

/** Lowest private IP first, numerically (10.0.0.9 before 10.0.0.10), then by id for a stable order. */
export function byPrivateIp(a: PoolEni, b: PoolEni): number {
  return compareIps(a.privateIp, b.privateIp) || a.networkInterfaceId.localeCompare(b.networkInterfaceId);
}

export const isFree = (eni: PoolEni) => eni.status === 'available';

export function gaugeOf(enis: PoolEni[]): { size: number; free: number } {
  return { size: enis.length, free: enis.filter(isFree).length };
}

/** DescribeNetworkInterfaces, every page. */
export function describeEnis(
  deps: CoreDeps,
  deadline: Deadline,
  input: DescribeNetworkInterfacesCommandInput,
): Promise<NetworkInterface[]> {
  const list = async () => {
    const out: NetworkInterface[] = [];
    for await (const page of paginateDescribeNetworkInterfaces({ client: deps.ec2 }, { ...input }))
      out.push(...(page.NetworkInterfaces ?? []));
    return out;
  };
  return awsCall('DescribeNetworkInterfaces', list, callOptions(deps, deadline));
}

/** The pool's ENIs in one AZ, lowest private IP first. */
export async function readPool(deps: CoreDeps, pool: Pool, availabilityZone: string, deadline: Deadline) {
  const Filters = [...tagFilters(pool.tags), { Name: 'availability-zone', Values: [availabilityZone] }];
  const enis = await describeEnis(deps, deadline, { Filters });
  return enis.map((ni) => toPoolEni(ni, pool.hostnameTag)).sort(byPrivateIp);
}

/** The instance's AZ, the pool ENIs it holds and the id of a non-pool interface at the pool's device index. */
export async function findInstance(deps: CoreDeps, pool: Pool, instanceId: string, deadline: Deadline) {
  const filter = { Name: 'attachment.instance-id', Values: [instanceId] };
  const enis = await describeEnis(deps, deadline, { Filters: [filter] });
  const own = enis.filter((ni) => ni.Attachment?.InstanceId === instanceId);
  const availabilityZone = own[0]?.AvailabilityZone;
  if (availabilityZone === undefined) return undefined; // no interface: not (yet) listed
  const inPool = (ni: NetworkInterface) => hasAllTags(ni.TagSet, pool.tags);
  const held = own.filter(inPool).map((ni) => toPoolEni(ni, pool.hostnameTag));
  const occupant = own.find((ni) => !inPool(ni) && ni.Attachment?.DeviceIndex === pool.deviceIndex);
  return { availabilityZone, held: held.sort(byPrivateIp), occupant: occupant?.NetworkInterfaceId };
}

export type InstanceView = NonNullable<Awaited<ReturnType<typeof findInstance>>>;

/** findInstance, describing again while EC2 does not list a just-launched instance yet. */
export function inspectInstance(deps: CoreDeps, pool: Pool, instanceId: string, deadline: Deadline) {
  return whileUnlisted(() => findInstance(deps, pool, instanceId, deadline), deps, instanceId, deadline);
}

/** `look` again while EC2 does not list a just-launched instance yet (eventual consistency), 20 s at most. */
export async function whileUnlisted<T>(
  look: () => Promise<T | undefined>,
  deps: CoreDeps,
  instanceId: string,
  deadline: Deadline,
): Promise<T> {
  const onWait = (_attempt: number, delayMs: number) =>
    deps.logger.info('EC2 does not list the instance yet; describing again', { instanceId, delayMs });
  const options = { clock: deps.clock, random: deps.random, what: `${instanceId} to be listed`, onWait };
  try {
    return await pollUntil(look, {
      ...options,
      deadline: deadline.within(20_000),
      baseMs: 500,
      maxMs: 4_000,
    });
  } catch (error) {
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new InstanceNotFoundError(
      `Instance ${instanceId} is not listed by EC2: it does not exist, is terminated or is in another Region`,
    );
  }
}
