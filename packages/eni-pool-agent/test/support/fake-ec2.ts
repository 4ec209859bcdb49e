// An in-memory EC2 behind aws-sdk-client-mock: enough state to exercise races,
// redelivery and cleanup in unit tests without a network.
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  type CompleteLifecycleActionCommandInput,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  type Filter,
  type Instance,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';

export interface FakeEni {
  id: string;
  ip: string;
  az: string;
  subnetId: string;
  tags: Record<string, string>;
  attachment?: {
    id: string;
    instanceId: string;
    deviceIndex: number;
    status: string;
    deleteOnTermination: boolean;
  };
}

export interface FakeInstance {
  id: string;
  az: string;
  /** Epoch ms. */
  launchTime: number;
  state: string;
  tags: Record<string, string>;
}

export function awsError(name: string, message = name) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

let seq = 0;
let launchSeq = 0;
const hex = () => (++seq).toString(16).padStart(17, '0');

export class FakeEc2 {
  readonly client = new EC2Client({ region: 'us-east-1' });
  readonly autoscalingClient = new AutoScalingClient({ region: 'us-east-1' });
  readonly ec2Mock = mockClient(this.client);
  readonly asMock = mockClient(this.autoscalingClient);
  readonly enis = new Map<string, FakeEni>();
  readonly instanceTags = new Map<string, Record<string, string>>();
  readonly instances = new Map<string, FakeInstance>();
  readonly subnets = new Map<string, { az: string; cidr: string }>();
  readonly completions: CompleteLifecycleActionCommandInput[] = [];
  readonly calls: Record<string, number> = {};
  /** Attachments start `attaching` and turn `attached` after this many describes of them. */
  attachingDescribes = 0;
  maxEnisPerInstance = 3;
  /**
   * EC2 eventual consistency: DescribeNetworkInterfaces filtered by `attachment.instance-id`
   * answers empty for that instance this many more times.
   */
  readonly staleDescribes = new Map<string, number>();
  /** Runs before each attach lands, e.g. to let a rival win the race. */
  beforeAttach?: (networkInterfaceId: string) => void;

  constructor() {
    const count = (name: string) => {
      this.calls[name] = (this.calls[name] ?? 0) + 1;
    };
    this.ec2Mock.on(DescribeNetworkInterfacesCommand).callsFake(async (input) => {
      count('DescribeNetworkInterfaces');
      await Promise.resolve();
      const byInstance = input.Filters?.find((f: Filter) => f.Name === 'attachment.instance-id')?.Values?.[0];
      const stale = byInstance === undefined ? 0 : (this.staleDescribes.get(byInstance) ?? 0);
      if (stale > 0) {
        this.staleDescribes.set(byInstance!, stale - 1);
        return { NetworkInterfaces: [] };
      }
      return { NetworkInterfaces: this.describe(input.Filters ?? [], input.NetworkInterfaceIds) };
    });
    this.ec2Mock.on(DescribeInstancesCommand).callsFake(async (input) => {
      count('DescribeInstances');
      await Promise.resolve();
      let list = [...this.instances.values()];
      for (const f of input.Filters ?? []) {
        const values: string[] = f.Values ?? [];
        const name: string = f.Name ?? '';
        list = list.filter((i) => {
          if (name.startsWith('tag:')) return values.includes(i.tags[name.slice(4)] ?? '\u0000');
          if (name === 'instance-id') return values.includes(i.id);
          if (name === 'instance-state-name') return values.includes(i.state);
          if (name === 'availability-zone') return values.includes(i.az);
          throw new Error(`fake EC2: unsupported instance filter ${name}`);
        });
      }
      // Eventual consistency: a stale instance is left out (and uses up one stale answer).
      list = list.filter((i) => {
        const stale = this.staleDescribes.get(i.id) ?? 0;
        if (stale > 0) this.staleDescribes.set(i.id, stale - 1);
        return stale <= 0;
      });
      return { Reservations: list.length === 0 ? [] : [{ Instances: list.map((i) => this.toInstance(i)) }] };
    });
    this.ec2Mock.on(AttachNetworkInterfaceCommand).callsFake(async (input) => {
      count('AttachNetworkInterface');
      await Promise.resolve();
      this.beforeAttach?.(input.NetworkInterfaceId ?? '');
      const eni = this.enis.get(input.NetworkInterfaceId ?? '');
      if (!eni) throw awsError('InvalidNetworkInterfaceID.NotFound');
      const instanceId = input.InstanceId ?? '';
      const own = this.attachedTo(instanceId);
      if (own.length === 0) throw awsError('InvalidInstanceID.NotFound');
      if (eni.attachment) throw awsError('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
      if (own[0]!.az !== eni.az) throw awsError('InvalidParameterCombination');
      if (own.some((e) => e.attachment?.deviceIndex === input.DeviceIndex)) {
        throw awsError('InvalidParameterValue', 'already has an interface attached at device index');
      }
      if (own.length >= this.maxEnisPerInstance) throw awsError('AttachmentLimitExceeded');
      const id = `eni-attach-${hex()}`;
      eni.attachment = {
        id,
        instanceId,
        deviceIndex: input.DeviceIndex ?? 0,
        status: this.attachingDescribes > 0 ? 'attaching' : 'attached',
        deleteOnTermination: false,
      };
      this.pendingDescribes.set(eni.id, this.attachingDescribes);
      return { AttachmentId: id };
    });
    this.ec2Mock.on(DetachNetworkInterfaceCommand).callsFake(async (input) => {
      count('DetachNetworkInterface');
      const eni = [...this.enis.values()].find((e) => e.attachment?.id === input.AttachmentId);
      if (!eni) throw awsError('InvalidAttachmentID.NotFound');
      eni.attachment = undefined;
      return {};
    });
    this.ec2Mock.on(ModifyNetworkInterfaceAttributeCommand).callsFake(async (input) => {
      count('ModifyNetworkInterfaceAttribute');
      const eni = this.enis.get(input.NetworkInterfaceId ?? '');
      if (!eni?.attachment || eni.attachment.id !== input.Attachment?.AttachmentId) {
        throw awsError('InvalidAttachmentID.NotFound');
      }
      eni.attachment.deleteOnTermination = input.Attachment?.DeleteOnTermination === true;
      return {};
    });
    this.ec2Mock.on(CreateTagsCommand).callsFake(async (input) => {
      count('CreateTags');
      for (const id of input.Resources ?? []) {
        const tags = this.instanceTags.get(id) ?? {};
        for (const t of input.Tags ?? []) tags[t.Key ?? ''] = t.Value ?? '';
        this.instanceTags.set(id, tags);
      }
      return {};
    });
    this.ec2Mock.on(DescribeTagsCommand).callsFake(async (input) => {
      count('DescribeTags');
      const ids = input.Filters?.find((f: Filter) => f.Name === 'resource-id')?.Values ?? [];
      const keys = input.Filters?.find((f: Filter) => f.Name === 'key')?.Values;
      const out = [];
      for (const id of ids) {
        for (const [Key, Value] of Object.entries(this.instanceTags.get(id) ?? {})) {
          if (!keys || keys.includes(Key))
            out.push({ ResourceId: id, Key, Value, ResourceType: 'instance' as const });
        }
      }
      return { Tags: out };
    });
    this.ec2Mock.on(DescribeSubnetsCommand).callsFake(async (input) => {
      count('DescribeSubnets');
      const out = [];
      for (const id of input.SubnetIds ?? []) {
        const s = this.subnets.get(id);
        if (!s) throw awsError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
        out.push({ SubnetId: id, AvailabilityZone: s.az, CidrBlock: s.cidr, VpcId: 'vpc-0123456789abcdef0' });
      }
      return { Subnets: out };
    });
    this.ec2Mock.on(CreateNetworkInterfaceCommand).callsFake(async (input) => {
      count('CreateNetworkInterface');
      const subnet = this.subnets.get(input.SubnetId ?? '');
      if (!subnet) throw awsError('InvalidSubnetID.NotFound');
      const tags: Record<string, string> = {};
      for (const spec of input.TagSpecifications ?? [])
        for (const t of spec.Tags ?? []) tags[t.Key ?? ''] = t.Value ?? '';
      const eni = this.addEni({
        ip: input.PrivateIpAddress ?? '',
        az: subnet.az,
        subnetId: input.SubnetId ?? '',
        tags,
      });
      return { NetworkInterface: this.toShape(eni) };
    });
    this.ec2Mock.on(DeleteNetworkInterfaceCommand).callsFake(async (input) => {
      count('DeleteNetworkInterface');
      this.enis.delete(input.NetworkInterfaceId ?? '');
      return {};
    });
    this.asMock.on(CompleteLifecycleActionCommand).callsFake(async (input) => {
      count('CompleteLifecycleAction');
      if (
        this.completions.some(
          (c) => c.InstanceId === input.InstanceId && c.LifecycleHookName === input.LifecycleHookName,
        )
      ) {
        throw Object.assign(
          new Error('No active Lifecycle Action found with instance ID ' + input.InstanceId),
          {
            name: 'ValidationError',
          },
        );
      }
      this.completions.push(input);
      return {};
    });
  }

  private readonly pendingDescribes = new Map<string, number>();

  addEni(e: Omit<FakeEni, 'id'> & { id?: string }): FakeEni {
    const eni: FakeEni = { ...e, id: e.id ?? `eni-${hex()}` };
    this.enis.set(eni.id, eni);
    return eni;
  }

  addSubnet(id: string, az: string, cidr: string) {
    this.subnets.set(id, { az, cidr });
  }

  /**
   * An instance with its primary ENI at device index 0. `group` tags it like Auto Scaling does
   * (aws:autoscaling:groupName); launch times increase with each instance unless given.
   */
  addInstance(
    az: string,
    instanceId = `i-${hex()}`,
    options: { group?: string; launchTime?: number; state?: string } = {},
  ): string {
    this.instances.set(instanceId, {
      id: instanceId,
      az,
      launchTime: options.launchTime ?? Date.UTC(2026, 0, 1) + ++launchSeq * 1_000,
      state: options.state ?? 'running',
      tags: options.group === undefined ? {} : { 'aws:autoscaling:groupName': options.group },
    });
    this.addEni({
      ip: `172.31.${seq % 250}.${(seq * 7) % 250}`,
      az,
      subnetId: 'subnet-primary',
      tags: {},
      attachment: {
        id: `eni-attach-${hex()}`,
        instanceId,
        deviceIndex: 0,
        status: 'attached',
        deleteOnTermination: true,
      },
    });
    return instanceId;
  }

  attachedTo(instanceId: string): FakeEni[] {
    return [...this.enis.values()].filter((e) => e.attachment?.instanceId === instanceId);
  }

  reset() {
    this.ec2Mock.reset();
    this.asMock.reset();
  }

  private toInstance(i: FakeInstance): Instance {
    return {
      InstanceId: i.id,
      LaunchTime: new Date(i.launchTime),
      Placement: { AvailabilityZone: i.az },
      State: { Name: i.state as 'running' },
      Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
      NetworkInterfaces: this.attachedTo(i.id).map((e) => ({
        NetworkInterfaceId: e.id,
        Attachment: { AttachmentId: e.attachment?.id, DeviceIndex: e.attachment?.deviceIndex },
      })),
    };
  }

  private describe(filters: Filter[], ids: string[] | undefined): NetworkInterface[] {
    let enis = [...this.enis.values()];
    if (ids) {
      for (const id of ids) if (!this.enis.has(id)) throw awsError('InvalidNetworkInterfaceID.NotFound');
      enis = enis.filter((e) => ids.includes(e.id));
    }
    for (const f of filters) {
      const values = f.Values ?? [];
      const name = f.Name ?? '';
      enis = enis.filter((e) => {
        if (name.startsWith('tag:')) return values.includes(e.tags[name.slice(4)] ?? '\u0000');
        if (name === 'availability-zone') return values.includes(e.az);
        if (name === 'status') return values.includes(e.attachment ? 'in-use' : 'available');
        if (name === 'attachment.instance-id') return values.includes(e.attachment?.instanceId ?? '');
        if (name === 'subnet-id') return values.includes(e.subnetId);
        if (name === 'addresses.private-ip-address') return values.includes(e.ip);
        throw new Error(`fake EC2: unsupported filter ${name}`);
      });
    }
    return enis.map((e) => this.toShape(e));
  }

  private toShape(e: FakeEni): NetworkInterface {
    const pending = this.pendingDescribes.get(e.id) ?? 0;
    if (e.attachment?.status === 'attaching') {
      if (pending <= 0) e.attachment.status = 'attached';
      else this.pendingDescribes.set(e.id, pending - 1);
    }
    return {
      NetworkInterfaceId: e.id,
      PrivateIpAddress: e.ip,
      AvailabilityZone: e.az,
      SubnetId: e.subnetId,
      Status: e.attachment ? 'in-use' : 'available',
      TagSet: Object.entries(e.tags).map(([Key, Value]) => ({ Key, Value })),
      ...(e.attachment
        ? {
            Attachment: {
              AttachmentId: e.attachment.id,
              InstanceId: e.attachment.instanceId,
              DeviceIndex: e.attachment.deviceIndex,
              Status: e.attachment.status as 'attached',
              DeleteOnTermination: e.attachment.deleteOnTermination,
            },
          }
        : {}),
    };
  }
}

export const POOL_TAGS = { 'netkit:eni-pool': 'app' };

/** Add `count` pool ENIs in `az` with IPs base.4, base.5, ... and hostnames `${prefix}1..n`. */
export function seedPool(
  fake: FakeEc2,
  az: string,
  base: string,
  prefix: string,
  count: number,
  firstHost = 4,
) {
  const out: FakeEni[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      fake.addEni({
        ip: `${base}.${firstHost + i}`,
        az,
        subnetId: `subnet-${az}`,
        tags: { ...POOL_TAGS, HostName: `${prefix}${i + 1}` },
      }),
    );
  }
  return out;
}
