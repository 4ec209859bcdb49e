import {
  DeleteInternetGatewayCommand,
  DeleteNatGatewayCommand,
  DeleteRouteCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DetachInternetGatewayCommand,
  EC2Client,
  type Filter,
  ReleaseAddressCommand,
  type Route,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * A small in-memory EC2 behind aws-sdk-client-mock, behaving like EC2 where the reaper cares:
 * a NAT stays `deleting` for `natDeleteDelayMs` (on the test clock) and keeps its EIP mapped;
 * ReleaseAddress fails InvalidIPAddress.InUse while mapped; DetachInternetGateway fails
 * DependencyViolation while any public address is mapped in the VPC; unknown ids give the
 * documented NotFound codes. `faults` makes the next calls of an action fail with a code (a code
 * starting `5xx:` fails as a server fault, HTTP 500). Every resource carries netkit:reapable=true
 * unless its `tags` say otherwise.
 */
export const ids = {
  vpc: 'vpc-0123456789abcdef0',
  otherVpc: 'vpc-0fedcba9876543210',
  nat: 'nat-0123456789abcdef0',
  nat2: 'nat-0123456789abcdef1',
  otherNat: 'nat-0fedcba9876543210',
  alloc: 'eipalloc-0123456789abcdef0',
  alloc2: 'eipalloc-0123456789abcdef1',
  natEni: 'eni-0123456789abcdef0',
  natEni2: 'eni-0123456789abcdef1',
  privateRtb: 'rtb-0123456789abcdef0',
  publicRtb: 'rtb-0123456789abcdef1',
  otherRtb: 'rtb-0fedcba9876543210',
  unlistedRtb: 'rtb-0123456789abcdef2',
  igw: 'igw-0123456789abcdef0',
  pcx: 'pcx-0123456789abcdef0',
} as const;

export interface FakeNat {
  tags?: Record<string, string>;
  vpc: string;
  state: 'pending' | 'available' | 'deleting' | 'deleted' | 'failed';
  alloc?: string;
  eni: string;
  deletedAt?: number;
}
export interface FakeEip {
  tags?: Record<string, string>;
  /** The network interface the address is mapped to, if any. */
  eni?: string;
  vpc: string;
}
export interface FakeTable {
  tags?: Record<string, string>;
  vpc: string;
  routes: Route[];
}
export interface FakeIgw {
  tags?: Record<string, string>;
  vpc?: string;
}

export type Mutation =
  | 'DeleteRoute'
  | 'DeleteNatGateway'
  | 'ReleaseAddress'
  | 'DetachInternetGateway'
  | 'DeleteInternetGateway';
const MUTATIONS: readonly string[] = [
  'DeleteRoute',
  'DeleteNatGateway',
  'ReleaseAddress',
  'DetachInternetGateway',
  'DeleteInternetGateway',
];

const REAPABLE = { 'netkit:reapable': 'true' };
const tagList = (tags: Record<string, string> | undefined) =>
  Object.entries(tags ?? REAPABLE).map(([Key, Value]) => ({ Key, Value }));

/** An HTTP 500 the SDK reports as a server fault (after its own attempts). */
export function serverFault(name = 'InternalError'): Error {
  return Object.assign(new Error('We encountered an internal error. Please try again.'), {
    name,
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });
}

export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

const matches = (filters: Filter[] | undefined, name: string, value: string | undefined) => {
  const f = filters?.find((x) => x.Name === name);
  return f === undefined || (value !== undefined && (f.Values ?? []).includes(value));
};
const anyMatch = (filters: Filter[] | undefined, name: string, values: (string | undefined)[]) => {
  const f = filters?.find((x) => x.Name === name);
  return f === undefined || values.some((v) => v !== undefined && (f.Values ?? []).includes(v));
};

export function createWorld(clock: { now(): number }) {
  const nats = new Map<string, FakeNat>();
  const eips = new Map<string, FakeEip>();
  const tables = new Map<string, FakeTable>();
  const igws = new Map<string, FakeIgw>();
  const faults = new Map<string, string[]>();
  /** Every call in order: 'DescribeNatGateways', 'DeleteRoute', ... */
  const calls: string[] = [];
  const settings = {
    natDeleteDelayMs: 20_000,
    /** Extra public IPs (e.g. draining Fargate ENIs) mapped in the VPC until this time. */
    publicIpsMappedUntil: 0,
  };

  const tick = () => {
    for (const nat of nats.values()) {
      if (nat.state === 'deleting' && nat.deletedAt !== undefined && clock.now() >= nat.deletedAt) {
        nat.state = 'deleted';
        for (const eip of eips.values()) if (eip.eni === nat.eni) eip.eni = undefined;
      }
    }
  };
  const fault = (action: string) => {
    calls.push(action);
    tick();
    const queue = faults.get(action);
    const code = queue?.shift();
    if (code?.startsWith('5xx:')) throw serverFault(code.slice(4));
    if (code !== undefined) throw awsError(code, `injected ${code}`);
  };

  const mock = mockClient(EC2Client);
  const install = () => {
    mock.reset();
    mock.on(DescribeNatGatewaysCommand).callsFake(async (input) => {
      fault('DescribeNatGateways');
      const out = [...nats.entries()]
        .filter(([id]) => matches(input.Filter, 'nat-gateway-id', id))
        .map(([id, n]) => ({
          NatGatewayId: id,
          VpcId: n.vpc,
          State: n.state,
          NatGatewayAddresses: n.alloc ? [{ AllocationId: n.alloc, NetworkInterfaceId: n.eni }] : [],
          Tags: tagList(n.tags),
        }));
      return { NatGateways: out };
    });
    mock.on(DescribeAddressesCommand).callsFake(async (input) => {
      fault('DescribeAddresses');
      return {
        Addresses: [...eips.entries()]
          .filter(([id]) => matches(input.Filters, 'allocation-id', id))
          .map(([id, e]) => ({
            AllocationId: id,
            Domain: 'vpc' as const,
            Tags: tagList(e.tags),
            ...(e.eni ? { AssociationId: `eipassoc-${id.slice(9)}`, NetworkInterfaceId: e.eni } : {}),
          })),
      };
    });
    mock.on(DescribeRouteTablesCommand).callsFake(async (input) => {
      fault('DescribeRouteTables');
      const f = input.Filters;
      return {
        RouteTables: [...tables.entries()]
          .filter(
            ([id, t]) =>
              matches(f, 'route-table-id', id) &&
              matches(f, 'vpc-id', t.vpc) &&
              anyMatch(
                f,
                'route.nat-gateway-id',
                t.routes.map((r) => r.NatGatewayId),
              ) &&
              anyMatch(
                f,
                'route.gateway-id',
                t.routes.map((r) => r.GatewayId),
              ),
          )
          .map(([id, t]) => ({
            RouteTableId: id,
            VpcId: t.vpc,
            Routes: t.routes.map((r) => ({ ...r })),
            Tags: tagList(t.tags),
          })),
      };
    });
    mock.on(DescribeInternetGatewaysCommand).callsFake(async (input) => {
      fault('DescribeInternetGateways');
      return {
        InternetGateways: [...igws.entries()]
          .filter(([id]) => matches(input.Filters, 'internet-gateway-id', id))
          .map(([id, g]) => ({
            InternetGatewayId: id,
            Attachments: g.vpc ? [{ VpcId: g.vpc, State: 'available' as const }] : [],
            Tags: tagList(g.tags),
          })),
      };
    });
    mock.on(DeleteRouteCommand).callsFake(async (input) => {
      fault('DeleteRoute');
      const table = tables.get(input.RouteTableId ?? '');
      if (table === undefined) throw awsError('InvalidRouteTableID.NotFound');
      const index = table.routes.findIndex(
        (r) =>
          (input.DestinationCidrBlock && r.DestinationCidrBlock === input.DestinationCidrBlock) ||
          (input.DestinationIpv6CidrBlock && r.DestinationIpv6CidrBlock === input.DestinationIpv6CidrBlock) ||
          (input.DestinationPrefixListId && r.DestinationPrefixListId === input.DestinationPrefixListId),
      );
      if (index < 0) throw awsError('InvalidRoute.NotFound');
      table.routes.splice(index, 1);
      return {};
    });
    mock.on(DeleteNatGatewayCommand).callsFake(async (input) => {
      fault('DeleteNatGateway');
      const nat = nats.get(input.NatGatewayId ?? '');
      if (nat === undefined) throw awsError('NatGatewayNotFound');
      if (nat.state === 'pending' || nat.state === 'available') {
        nat.state = 'deleting';
        nat.deletedAt = clock.now() + settings.natDeleteDelayMs;
        tick();
      }
      return { NatGatewayId: input.NatGatewayId };
    });
    mock.on(ReleaseAddressCommand).callsFake(async (input) => {
      fault('ReleaseAddress');
      const eip = eips.get(input.AllocationId ?? '');
      if (eip === undefined) throw awsError('InvalidAllocationID.NotFound');
      if (eip.eni !== undefined) throw awsError('InvalidIPAddress.InUse');
      eips.delete(input.AllocationId ?? '');
      return {};
    });
    mock.on(DetachInternetGatewayCommand).callsFake(async (input) => {
      fault('DetachInternetGateway');
      const igw = igws.get(input.InternetGatewayId ?? '');
      if (igw === undefined) throw awsError('InvalidInternetGatewayID.NotFound');
      if (igw.vpc !== input.VpcId) throw awsError('Gateway.NotAttached');
      const mapped =
        [...eips.values()].some((e) => e.eni !== undefined && e.vpc === input.VpcId) ||
        clock.now() < settings.publicIpsMappedUntil;
      if (mapped) throw awsError('DependencyViolation', 'Network has some mapped public address(es).');
      igw.vpc = undefined;
      return {};
    });
    mock.on(DeleteInternetGatewayCommand).callsFake(async (input) => {
      fault('DeleteInternetGateway');
      const igw = igws.get(input.InternetGatewayId ?? '');
      if (igw === undefined) throw awsError('InvalidInternetGatewayID.NotFound');
      if (igw.vpc !== undefined) throw awsError('DependencyViolation', 'still attached');
      igws.delete(input.InternetGatewayId ?? '');
      return {};
    });
  };
  install();

  /** The seed's stack: NAT + EIP in the VPC, a private table routing to the NAT, a public one to the IGW. */
  const seedScenario = () => {
    nats.set(ids.nat, { vpc: ids.vpc, state: 'available', alloc: ids.alloc, eni: ids.natEni });
    eips.set(ids.alloc, { eni: ids.natEni, vpc: ids.vpc });
    igws.set(ids.igw, { vpc: ids.vpc });
    tables.set(ids.privateRtb, {
      vpc: ids.vpc,
      routes: [
        {
          DestinationCidrBlock: '10.0.0.0/16',
          GatewayId: 'local',
          Origin: 'CreateRouteTable',
          State: 'active',
        },
        { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: ids.nat, Origin: 'CreateRoute', State: 'active' },
        {
          DestinationCidrBlock: '172.16.0.0/16',
          VpcPeeringConnectionId: ids.pcx,
          Origin: 'CreateRoute',
          State: 'active',
        },
      ],
    });
    tables.set(ids.publicRtb, {
      vpc: ids.vpc,
      routes: [
        {
          DestinationCidrBlock: '10.0.0.0/16',
          GatewayId: 'local',
          Origin: 'CreateRouteTable',
          State: 'active',
        },
        { DestinationCidrBlock: '0.0.0.0/0', GatewayId: ids.igw, Origin: 'CreateRoute', State: 'active' },
        { DestinationIpv6CidrBlock: '::/0', GatewayId: ids.igw, Origin: 'CreateRoute', State: 'active' },
      ],
    });
  };

  return {
    mock,
    nats,
    eips,
    tables,
    igws,
    faults,
    calls,
    settings,
    install,
    seedScenario,
    /** Mutating calls made, in order. */
    mutations: () => calls.filter((c) => MUTATIONS.includes(c)) as Mutation[],
    inject(action: string, ...codes: string[]) {
      faults.set(action, [...(faults.get(action) ?? []), ...codes]);
    },
  };
}

export type World = ReturnType<typeof createWorld>;
