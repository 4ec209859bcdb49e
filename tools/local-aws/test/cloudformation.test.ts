import {
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateRouteTableCommand, DescribeVpcEndpointsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { clients, network } from './support/aws.ts';

const emu = useEmulator();

function endpointTemplate(vpcId: string, subnets: string[], routeTableId: string): string {
  return JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: {
      EndpointSg: {
        Type: 'AWS::EC2::SecurityGroup',
        Properties: {
          GroupDescription: 'interface endpoints',
          VpcId: vpcId,
          SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/16' }],
        },
      },
      EcrApi: {
        Type: 'AWS::EC2::VPCEndpoint',
        Properties: {
          VpcId: vpcId,
          ServiceName: 'com.amazonaws.us-east-1.ecr.api',
          VpcEndpointType: 'Interface',
          PrivateDnsEnabled: true,
          SubnetIds: subnets,
          SecurityGroupIds: [{ Ref: 'EndpointSg' }],
        },
      },
      Logs: {
        Type: 'AWS::EC2::VPCEndpoint',
        Properties: {
          VpcId: vpcId,
          ServiceName: 'com.amazonaws.us-east-1.logs',
          VpcEndpointType: 'Interface',
          PrivateDnsEnabled: true,
          SubnetIds: subnets,
          SecurityGroupIds: [{ Ref: 'EndpointSg' }],
        },
      },
      S3: {
        Type: 'AWS::EC2::VPCEndpoint',
        Properties: {
          VpcId: vpcId,
          ServiceName: 'com.amazonaws.us-east-1.s3',
          VpcEndpointType: 'Gateway',
          RouteTableIds: [routeTableId],
        },
      },
    },
    Outputs: { EcrApiId: { Value: { Ref: 'EcrApi' } } },
  });
}

async function liveEndpoints(ec2: EC2Client, vpcId: string) {
  const out = await ec2.send(
    new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  return (out.VpcEndpoints ?? []).filter((e) => String(e.State).toLowerCase() !== 'deleted');
}

describe('CloudFormation stacks with VPC endpoints', () => {
  it('creates Interface and Gateway endpoints from a stack, available at once (moto creates stacks synchronously)', async () => {
    const { ec2, cfn } = clients(emu());
    const net = await network(ec2);
    const rt = await ec2.send(new CreateRouteTableCommand({ VpcId: net.vpcId }));
    await cfn.send(
      new CreateStackCommand({
        StackName: 'endpoints',
        TemplateBody: endpointTemplate(net.vpcId, [net.subnetA, net.subnetB], rt.RouteTable!.RouteTableId!),
      }),
    );
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: 'endpoints' }))).Stacks![0]!;
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    const endpoints = await liveEndpoints(ec2, net.vpcId);
    expect(endpoints).toHaveLength(3);
    const interfaces = endpoints.filter((e) => e.VpcEndpointType === 'Interface');
    expect(interfaces).toHaveLength(2);
    for (const e of interfaces) {
      expect(String(e.State)).toBe('available'); // the API sends lowercase states
      expect(e.PrivateDnsEnabled).toBe(true);
      expect(e.SubnetIds?.sort()).toEqual([net.subnetA, net.subnetB].sort());
      expect(e.NetworkInterfaceIds).toHaveLength(2);
      expect(e.Groups).toHaveLength(1);
    }
    const gateway = endpoints.find((e) => e.VpcEndpointType === 'Gateway')!;
    expect(gateway.RouteTableIds).toEqual([rt.RouteTable!.RouteTableId]);
    const ecrId = stack.Outputs?.find((o) => o.OutputKey === 'EcrApiId')?.OutputValue;
    expect(interfaces.map((e) => e.VpcEndpointId)).toContain(ecrId);
    const resources = await cfn.send(new DescribeStackResourcesCommand({ StackName: 'endpoints' }));
    expect(resources.StackResources!.filter((r) => r.ResourceType === 'AWS::EC2::VPCEndpoint')).toHaveLength(
      3,
    );
  });

  it('deletes the stack VPC endpoints (and their ENIs) on DeleteStack', async () => {
    const { ec2, cfn } = clients(emu());
    const net = await network(ec2);
    const rt = await ec2.send(new CreateRouteTableCommand({ VpcId: net.vpcId }));
    await cfn.send(
      new CreateStackCommand({
        StackName: 'endpoints',
        TemplateBody: endpointTemplate(net.vpcId, [net.subnetA], rt.RouteTable!.RouteTableId!),
      }),
    );
    const before = await liveEndpoints(ec2, net.vpcId);
    expect(before).toHaveLength(3);
    const stackId = (await cfn.send(new DescribeStacksCommand({ StackName: 'endpoints' }))).Stacks![0]!
      .StackId!;
    await cfn.send(new DeleteStackCommand({ StackName: 'endpoints' }));
    expect(await liveEndpoints(ec2, net.vpcId)).toEqual([]);
    const deleted = await cfn.send(new DescribeStacksCommand({ StackName: stackId }));
    expect(deleted.Stacks![0]!.StackStatus).toBe('DELETE_COMPLETE');
  });
});
