import { startEmulator } from '@netkit/local-aws';
import * as E from '@aws-sdk/client-ec2';
const emu = await startEmulator({ natDeleteDelayMs: 1500 });
try {
  const ec2 = new E.EC2Client(emu.clientConfig);
  const vpc = (await ec2.send(new E.CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
  const sub = (await ec2.send(new E.CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.0.1.0/24' }))).Subnet!.SubnetId!;
  const igw = (await ec2.send(new E.CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await ec2.send(new E.AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
  const alloc = (await ec2.send(new E.AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!;
  const nat = (await ec2.send(new E.CreateNatGatewayCommand({ SubnetId: sub, AllocationId: alloc }))).NatGateway!;
  console.log('nat', JSON.stringify(nat));
  const rtb = (await ec2.send(new E.CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!;
  await ec2.send(new E.CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat.NatGatewayId }));
  await ec2.send(new E.CreateRouteCommand({ RouteTableId: rtb, DestinationIpv6CidrBlock: '::/0', GatewayId: igw }));
  await ec2.send(new E.CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '192.168.0.0/16', GatewayId: igw }));
  const rts = await ec2.send(new E.DescribeRouteTablesCommand({ Filters: [{ Name: 'route-table-id', Values: [rtb, 'rtb-0000000000000000a'] }] }));
  console.log('rts', JSON.stringify(rts.RouteTables));
  const rts2 = await ec2.send(new E.DescribeRouteTablesCommand({ Filters: [{ Name: 'route.nat-gateway-id', Values: [nat.NatGatewayId!] }] }));
  console.log('rts by nat', rts2.RouteTables?.map(r => r.RouteTableId));
  const n = await ec2.send(new E.DescribeNatGatewaysCommand({ Filter: [{ Name: 'nat-gateway-id', Values: [nat.NatGatewayId!, 'nat-0000000000000000a'] }] }));
  console.log('nats', JSON.stringify(n.NatGateways));
  const ig = await ec2.send(new E.DescribeInternetGatewaysCommand({ Filters: [{ Name: 'internet-gateway-id', Values: [igw, 'igw-0000000000000000a'] }] }));
  console.log('igws', JSON.stringify(ig.InternetGateways));
  const ad = await ec2.send(new E.DescribeAddressesCommand({ Filters: [{ Name: 'allocation-id', Values: [alloc, 'eipalloc-0000000000000000a'] }] }));
  console.log('addrs', JSON.stringify(ad.Addresses));
  await ec2.send(new E.DeleteRouteCommand({ RouteTableId: rtb, DestinationIpv6CidrBlock: '::/0' }));
  try { await ec2.send(new E.DeleteRouteCommand({ RouteTableId: rtb, DestinationIpv6CidrBlock: '::/0' })); } catch (e) { console.log('del route again', (e as Error).name, (e as Error).message); }
  await ec2.send(new E.DeleteNatGatewayCommand({ NatGatewayId: nat.NatGatewayId }));
  try { await ec2.send(new E.ReleaseAddressCommand({ AllocationId: alloc })); } catch (e) { console.log('release', (e as Error).name); }
  try { await ec2.send(new E.DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc })); } catch (e) { console.log('detach', (e as Error).name); }
  const n2 = await ec2.send(new E.DescribeNatGatewaysCommand({ Filter: [{ Name: 'nat-gateway-id', Values: [nat.NatGatewayId!] }] }));
  console.log('nat state', n2.NatGateways?.[0]?.State);
  await new Promise(r => setTimeout(r, 1700));
  const n3 = await ec2.send(new E.DescribeNatGatewaysCommand({ Filter: [{ Name: 'nat-gateway-id', Values: [nat.NatGatewayId!] }] }));
  console.log('nat after', JSON.stringify(n3.NatGateways));
  await ec2.send(new E.ReleaseAddressCommand({ AllocationId: alloc }));
  try { await ec2.send(new E.ReleaseAddressCommand({ AllocationId: alloc })); } catch (e) { console.log('release again', (e as Error).name); }
  await ec2.send(new E.DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
  try { await ec2.send(new E.DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc })); } catch (e) { console.log('detach again', (e as Error).name); }
  await ec2.send(new E.DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
  try { await ec2.send(new E.DeleteInternetGatewayCommand({ InternetGatewayId: igw })); } catch (e) { console.log('del igw again', (e as Error).name); }
  try { await ec2.send(new E.DeleteNatGatewayCommand({ NatGatewayId: 'nat-0000000000000000a' })); } catch (e) { console.log('del nat missing', (e as Error).name); }
  console.log(await emu.calls());
} finally { await emu.stop(); }
