import { type Address, DescribeAddressesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { PoolGauge } from '@netkit/aws-core/metrics';
import { tagFilters } from '@netkit/aws-core/tags';

/** One pool EIP as the associator sees it. */
export interface PoolAddress {
  allocationId: string;
  publicIp: string | undefined;
  associationId: string | undefined;
  instanceId: string | undefined;
  networkInterfaceId: string | undefined;
}

export interface PoolSnapshot {
  addresses: PoolAddress[];
  /** Pool EIPs associated with nothing (no instance, no network interface). */
  free: PoolAddress[];
}

/** Absent and empty are the same (some EC2 implementations send `<instanceId/>` for a free address). */
function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function toPoolAddress(a: Address): PoolAddress | undefined {
  const allocationId = present(a.AllocationId);
  if (allocationId === undefined) return undefined;
  return {
    allocationId,
    publicIp: present(a.PublicIp),
    associationId: present(a.AssociationId),
    instanceId: present(a.InstanceId),
    networkInterfaceId: present(a.NetworkInterfaceId),
  };
}

function byAllocationId(x: { allocationId: string }, y: { allocationId: string }): number {
  return x.allocationId < y.allocationId ? -1 : x.allocationId > y.allocationId ? 1 : 0;
}

function isFree(a: PoolAddress): boolean {
  return a.associationId === undefined && a.instanceId === undefined && a.networkInterfaceId === undefined;
}

/** The pool: VPC EIPs carrying every pair of `tags`, filtered on the server (not paginated). */
export async function describePool(ec2: EC2Client, tags: Record<string, string>): Promise<PoolSnapshot> {
  const out = await ec2.send(
    new DescribeAddressesCommand({
      Filters: [{ Name: 'domain', Values: ['vpc'] }, ...tagFilters(tags)],
    }),
  );
  const addresses = (out.Addresses ?? []).flatMap((a) => toPoolAddress(a) ?? []);
  addresses.sort(byAllocationId);
  return { addresses, free: addresses.filter(isFree) };
}

/** The pool EIPs associated with `instanceId`, filtered on the server (the read-back). */
export async function describeHeldBy(
  ec2: EC2Client,
  tags: Record<string, string>,
  instanceId: string,
): Promise<PoolAddress[]> {
  const out = await ec2.send(
    new DescribeAddressesCommand({
      Filters: [
        { Name: 'domain', Values: ['vpc'] },
        { Name: 'instance-id', Values: [instanceId] },
        ...tagFilters(tags),
      ],
    }),
  );
  return (out.Addresses ?? [])
    .flatMap((a) => toPoolAddress(a) ?? [])
    .filter((a) => a.instanceId === instanceId);
}

/** FNV-1a, 32 bit: a stable hash of the instance id. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG in [0, 1). */
function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Free EIPs in an order seeded by the instance id: a burst spreads out, a redelivery agrees with the original. */
export function candidateOrder<T extends { allocationId: string }>(
  free: readonly T[],
  instanceId: string,
): T[] {
  const sorted = [...free].sort(byAllocationId);
  const random = seededRandom(hash32(instanceId));
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = sorted[i]!;
    sorted[i] = sorted[j]!;
    sorted[j] = a;
  }
  return sorted;
}

/** The gauge after this invocation: `taken` EIPs were associated since the snapshot. */
export function gaugeOf(pool: PoolSnapshot | undefined, exhausted: boolean, taken = 0): PoolGauge {
  const size = pool?.addresses.length ?? 0;
  return { size, free: Math.max(0, (pool?.free.length ?? 0) - taken), exhausted };
}
