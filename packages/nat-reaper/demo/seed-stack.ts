import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AllocateAddressCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  type EC2Client,
  type ResourceType,
  type TagSpecification,
} from '@aws-sdk/client-ec2';

/** The seed's network: a VPC whose private subnet reaches the internet through a NAT gateway. */
export interface SeedStack {
  vpcId: string;
  natGatewayId: string;
  allocationId: string;
  internetGatewayId: string;
  publicRouteTableId: string;
  privateRouteTableId: string;
}

export interface SeedOptions {
  /** Value of the netkit:reapable tag on the NAT gateway, its EIP, both route tables and the IGW; undefined: untagged. */
  reapable?: string | undefined;
}

/**
 * The seed's network. The resources to reap carry netkit:reapable=true, as the example stack tags
 * them (`{ reapable: undefined }` leaves them untagged).
 */
export async function createSeedStack(
  ec2: EC2Client,
  cidr = '10.0.0.0/16',
  options: SeedOptions = { reapable: 'true' },
): Promise<SeedStack> {
  const tagged = (type: ResourceType): { TagSpecifications?: TagSpecification[] } =>
    options.reapable === undefined
      ? {}
      : {
          TagSpecifications: [
            { ResourceType: type, Tags: [{ Key: 'netkit:reapable', Value: options.reapable }] },
          ],
        };
  const prefix = cidr.split('.').slice(0, 2).join('.');
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc?.VpcId as string;
  const publicSubnet = (
    await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `${prefix}.1.0/24` }))
  ).Subnet?.SubnetId as string;
  await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `${prefix}.3.0/24` }));
  const internetGatewayId = (await ec2.send(new CreateInternetGatewayCommand(tagged('internet-gateway'))))
    .InternetGateway?.InternetGatewayId as string;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId }));
  const allocationId = (
    await ec2.send(new AllocateAddressCommand({ Domain: 'vpc', ...tagged('elastic-ip') }))
  ).AllocationId as string;
  const natGatewayId = (
    await ec2.send(
      new CreateNatGatewayCommand({
        SubnetId: publicSubnet,
        AllocationId: allocationId,
        ...tagged('natgateway'),
      }),
    )
  ).NatGateway?.NatGatewayId as string;
  const publicRouteTableId = (
    await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId, ...tagged('route-table') }))
  ).RouteTable?.RouteTableId as string;
  const privateRouteTableId = (
    await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId, ...tagged('route-table') }))
  ).RouteTable?.RouteTableId as string;
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: publicRouteTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      GatewayId: internetGatewayId,
    }),
  );
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: privateRouteTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      NatGatewayId: natGatewayId,
    }),
  );
  return { vpcId, natGatewayId, allocationId, internetGatewayId, publicRouteTableId, privateRouteTableId };
}

/** What is left of the stack, read back from EC2. */
export async function observe(ec2: EC2Client, stack: SeedStack) {
  const nat = (
    await ec2.send(
      new DescribeNatGatewaysCommand({ Filter: [{ Name: 'nat-gateway-id', Values: [stack.natGatewayId] }] }),
    )
  ).NatGateways?.[0];
  const eips = (
    await ec2.send(
      new DescribeAddressesCommand({ Filters: [{ Name: 'allocation-id', Values: [stack.allocationId] }] }),
    )
  ).Addresses;
  const igws = (
    await ec2.send(
      new DescribeInternetGatewaysCommand({
        Filters: [{ Name: 'internet-gateway-id', Values: [stack.internetGatewayId] }],
      }),
    )
  ).InternetGateways;
  const tables = (
    await ec2.send(
      new DescribeRouteTablesCommand({
        Filters: [{ Name: 'route-table-id', Values: [stack.publicRouteTableId, stack.privateRouteTableId] }],
      }),
    )
  ).RouteTables;
  const defaultRoutes = (tables ?? []).flatMap((t) =>
    (t.Routes ?? []).filter((r) => r.DestinationCidrBlock === '0.0.0.0/0').map(() => t.RouteTableId),
  );
  return {
    natState: nat?.State,
    eipCount: eips?.length ?? 0,
    igwCount: igws?.length ?? 0,
    defaultRoutes: defaultRoutes.sort(),
  };
}

export const MUTATING_ACTIONS = [
  'ec2:DeleteRoute',
  'ec2:DeleteNatGateway',
  'ec2:ReleaseAddress',
  'ec2:DetachInternetGateway',
  'ec2:DeleteInternetGateway',
];

/** Only the mutating EC2 calls of a calls() snapshot. */
export function mutations(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => MUTATING_ACTIONS.includes(k)));
}

export interface ReceivedResponse {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

/** A local HTTP server standing in for CloudFormation's presigned ResponseURL. */
export async function startResponseServer() {
  const received: ReceivedResponse[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = { unparsable: text };
      }
      received.push({ method: req.method, url: req.url, headers: req.headers, body, at: Date.now() });
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    received,
    /** A presigned-looking URL on this server. */
    url: (name: string) => `${base}/cfn-response/${name}?X-Amz-Signature=abc123`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
