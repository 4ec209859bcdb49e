import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  type Address,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand,
  type EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import type { AwsStub } from 'aws-sdk-client-mock';

// biome-ignore lint/suspicious/noExplicitAny: aws-sdk-client-mock's stub types are generic over every command
type Ec2Stub = AwsStub<any, any, EC2Client['config']>;
export type AsgStub = AwsStub<
  // biome-ignore lint/suspicious/noExplicitAny: see above
  any,
  // biome-ignore lint/suspicious/noExplicitAny: see above
  any,
  AutoScalingClient['config']
>;

export interface FakeAddress {
  allocationId: string;
  publicIp: string;
  tags: Record<string, string>;
  domain?: 'vpc' | 'standard';
  instanceId?: string;
  associationId?: string;
  networkInterfaceId?: string;
}

export function awsError(name: string, message = name, status = 400): EC2ServiceException {
  return new EC2ServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

export const POOL_TAGS = { Application: 'prod ForwardProxy' };

/** `n` pool EIPs tagged with POOL_TAGS. */
export function poolOf(n: number, tags: Record<string, string> = POOL_TAGS): FakeAddress[] {
  return Array.from({ length: n }, (_, i) => ({
    allocationId: `eipalloc-${String(i + 1).padStart(17, '0')}`,
    publicIp: `203.0.113.${i + 1}`,
    tags,
  }));
}

let associationSeq = 0;

/**
 * A small stateful model of EC2 Elastic IPs behind aws-sdk-client-mock: server-side
 * filters (domain, instance-id, tag:K), AllowReassociation=false, and EC2's replacement
 * of an instance's previous EIP on its primary address.
 */
/** The primary interface (device index 0) the fake gives every instance. */
export function primaryEniOf(instanceId: string): string {
  return `eni-${instanceId.slice(2)}`;
}

export function fakeEc2(ec2Mock: Ec2Stub, addresses: FakeAddress[]) {
  const failures: Record<string, Error[]> = {};
  /** Instances whose interfaces DescribeNetworkInterfaces does not list yet (eventual consistency), by remaining misses. */
  const invisible = new Map<string, number>();
  /** Extra interfaces attached to instances (another hook's), which never take the EIP. */
  const secondary = new Map<string, string>();
  const maybeFail = (command: string) => {
    const next = failures[command]?.shift();
    if (next) throw next;
  };
  const describe = (filters: { Name?: string; Values?: string[] }[] | undefined): Address[] =>
    addresses
      .filter((a) =>
        (filters ?? []).every((f) => {
          const values = f.Values ?? [];
          if (f.Name === 'domain') return values.includes(a.domain ?? 'vpc');
          if (f.Name === 'instance-id') return a.instanceId !== undefined && values.includes(a.instanceId);
          if (f.Name?.startsWith('tag:')) {
            const value = a.tags[f.Name.slice(4)];
            return value !== undefined && values.includes(value);
          }
          throw new Error(`fake EC2: unsupported filter ${f.Name}`);
        }),
      )
      .map((a) => ({
        AllocationId: a.allocationId,
        PublicIp: a.publicIp,
        Domain: a.domain ?? 'vpc',
        ...(a.instanceId ? { InstanceId: a.instanceId } : {}),
        ...(a.associationId ? { AssociationId: a.associationId } : {}),
        ...(a.networkInterfaceId ? { NetworkInterfaceId: a.networkInterfaceId } : {}),
        Tags: Object.entries(a.tags).map(([Key, Value]) => ({ Key, Value })),
      }));
  ec2Mock
    .on(DescribeAddressesCommand)
    .callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
      maybeFail('DescribeAddresses');
      return { Addresses: describe(input.Filters) };
    });
  ec2Mock
    .on(DescribeNetworkInterfacesCommand)
    .callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
      maybeFail('DescribeNetworkInterfaces');
      const filter = input.Filters?.find((f) => f.Name === 'attachment.instance-id');
      if (!filter || input.Filters!.length !== 1) throw new Error('fake EC2: unsupported ENI filters');
      const instanceId = filter.Values![0]!;
      const misses = invisible.get(instanceId) ?? 0;
      if (misses > 0) {
        invisible.set(instanceId, misses - 1);
        return { NetworkInterfaces: [] };
      }
      const enis = [
        {
          NetworkInterfaceId: primaryEniOf(instanceId),
          Attachment: { InstanceId: instanceId, DeviceIndex: 0 },
        },
      ];
      const extra = secondary.get(instanceId);
      if (extra)
        enis.unshift({ NetworkInterfaceId: extra, Attachment: { InstanceId: instanceId, DeviceIndex: 1 } });
      return { NetworkInterfaces: enis };
    });
  ec2Mock
    .on(AssociateAddressCommand)
    .callsFake(
      (input: {
        AllocationId?: string;
        InstanceId?: string;
        NetworkInterfaceId?: string;
        AllowReassociation?: boolean;
      }) => {
        maybeFail('AssociateAddress');
        if (input.InstanceId !== undefined) {
          if (secondary.has(input.InstanceId)) {
            throw awsError(
              'InvalidInstanceID',
              `There are multiple interfaces attached to instance '${input.InstanceId}'. Please specify an interface ID for the operation instead.`,
            );
          }
          return associate(input.AllocationId!, input.InstanceId, input.AllowReassociation ?? true);
        }
        const eni = input.NetworkInterfaceId ?? '';
        if (!eni.startsWith('eni-') || [...secondary.values()].includes(eni)) {
          throw new Error(`fake EC2: association to ${eni}, not a primary interface`);
        }
        return associate(input.AllocationId!, `i-${eni.slice(4)}`, input.AllowReassociation ?? true);
      },
    );
  ec2Mock.on(DisassociateAddressCommand).callsFake((input: { AssociationId?: string }) => {
    maybeFail('DisassociateAddress');
    const a = addresses.find((x) => x.associationId === input.AssociationId);
    if (!a) throw awsError('InvalidAssociationID.NotFound');
    delete a.instanceId;
    delete a.associationId;
    return {};
  });
  function associate(allocationId: string, instanceId: string, allowReassociation = false) {
    const a = addresses.find((x) => x.allocationId === allocationId);
    if (!a) throw awsError('InvalidAllocationID.NotFound');
    if (a.instanceId === instanceId) return { AssociationId: a.associationId };
    if ((a.instanceId || a.networkInterfaceId) && !allowReassociation) {
      throw awsError('Resource.AlreadyAssociated', `resource ${allocationId} is already associated`);
    }
    for (const other of addresses) {
      if (other.instanceId === instanceId) {
        delete other.instanceId;
        delete other.associationId;
      }
    }
    a.instanceId = instanceId;
    a.associationId = `eipassoc-${String(++associationSeq).padStart(17, '0')}`;
    return { AssociationId: a.associationId };
  }
  return {
    addresses,
    associate,
    /** DescribeNetworkInterfaces lists nothing for `instanceId` the next `misses` times. */
    hideInterfaces(instanceId: string, misses: number) {
      invisible.set(instanceId, misses);
    },
    /** Another hook attached `eni` at device index 1. */
    attachSecondary(instanceId: string, eni: string) {
      secondary.set(instanceId, eni);
    },
    /** The next `times` calls of `command` (e.g. 'AssociateAddress') fail with `error`. */
    failNext(
      command: 'DescribeAddresses' | 'DescribeNetworkInterfaces' | 'AssociateAddress' | 'DisassociateAddress',
      error: Error,
      times = 1,
    ) {
      failures[command] = [...(failures[command] ?? []), ...Array.from({ length: times }, () => error)];
    },
    heldBy: (instanceId: string) => addresses.filter((a) => a.instanceId === instanceId),
  };
}

/**
 * A virtual clock for unit tests. Foreground sleeps (retry and polling waits, which pass
 * no AbortSignal) advance time at once, like `manualClock`; background sleeps (the
 * heartbeat keeper, which passes its AbortSignal) wait until foreground work has moved
 * time past their wake-up, or until aborted. So heartbeats follow the simulated wait
 * instead of racing ahead of it.
 */
export function virtualClock(start = Date.parse('2026-11-21T10:00:00Z')) {
  let t = start;
  const sleeps: number[] = [];
  const waiters: { at: number; wake: () => void }[] = [];
  const wakeDue = () => {
    for (const w of [...waiters]) {
      if (w.at <= t) {
        waiters.splice(waiters.indexOf(w), 1);
        w.wake();
      }
    }
  };
  return {
    sleeps,
    now: () => t,
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) return;
      if (signal) {
        await new Promise<void>((resolve) => {
          const waiter = { at: t + ms, wake: resolve };
          waiters.push(waiter);
          signal.addEventListener(
            'abort',
            () => {
              const i = waiters.indexOf(waiter);
              if (i >= 0) waiters.splice(i, 1);
              resolve();
            },
            { once: true },
          );
        });
        return;
      }
      sleeps.push(ms);
      t += ms;
      wakeDue();
      await Promise.resolve();
    },
  };
}
