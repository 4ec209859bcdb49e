import {
  CreateChangeSetCommand,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStackResourceCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ListStackResourcesCommand,
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

// "DeleteStack" (AWS CloudFormation API Reference): RetainResources - "For stacks in the
// DELETE_FAILED state, a list of resource logical IDs that are associated with the resources you
// want to retain. During deletion, CloudFormation deletes the stack but doesn't delete the retained
// resources." A resource CloudFormation cannot delete leaves the stack in DELETE_FAILED with the
// resource still in it; DeleteStack may be called again. moto drops the stack instead and ignores
// RetainResources; the harness does what CloudFormation does.
describe('CloudFormation DeleteStack: DELETE_FAILED and RetainResources', () => {
  async function endpointStack() {
    const { ec2, cfn } = clients(emu());
    const net = await network(ec2);
    const rt = await ec2.send(new CreateRouteTableCommand({ VpcId: net.vpcId }));
    await cfn.send(
      new CreateStackCommand({
        StackName: 'stuck',
        TemplateBody: endpointTemplate(net.vpcId, [net.subnetA], rt.RouteTable!.RouteTableId!),
      }),
    );
    const stackId = (await cfn.send(new DescribeStacksCommand({ StackName: 'stuck' }))).Stacks![0]!.StackId!;
    return { ec2, cfn, net, stackId };
  }
  const status = async (cfn: ReturnType<typeof clients>['cfn'], name: string) =>
    (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks![0]!.StackStatus;

  it('leaves the stack DELETE_FAILED with the resource that could not be deleted, and deletes the rest', async () => {
    const { ec2, cfn, net, stackId } = await endpointStack();
    await emu().cloudformation.deleteFailure({ logicalId: 'Logs', reason: 'endpoint busy' });
    await cfn.send(new DeleteStackCommand({ StackName: 'stuck' }));
    expect(await status(cfn, 'stuck')).toBe('DELETE_FAILED');
    expect(await status(cfn, stackId)).toBe('DELETE_FAILED');
    const left = await liveEndpoints(ec2, net.vpcId);
    expect(left.map((e) => e.ServiceName)).toEqual(['com.amazonaws.us-east-1.logs']);
    const resources = (await cfn.send(new DescribeStackResourcesCommand({ StackName: stackId })))
      .StackResources!;
    expect(resources.find((r) => r.LogicalResourceId === 'Logs')).toMatchObject({
      ResourceStatus: 'DELETE_FAILED',
      PhysicalResourceId: left[0]!.VpcEndpointId,
    });
    // Deleted in dependency order: the security group the stuck endpoint uses is never attempted.
    expect(resources.map((r) => r.LogicalResourceId).sort()).toEqual(['EndpointSg', 'Logs']);
    const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: stackId }))).StackEvents!;
    expect(events[0]).toMatchObject({
      ResourceType: 'AWS::CloudFormation::Stack',
      ResourceStatus: 'DELETE_FAILED',
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        LogicalResourceId: 'Logs',
        ResourceStatus: 'DELETE_FAILED',
        ResourceStatusReason: 'endpoint busy',
      }),
    );
  });

  it('deletes a DELETE_FAILED stack on a later DeleteStack once the resource can go', async () => {
    const { ec2, cfn, net, stackId } = await endpointStack();
    await emu().cloudformation.deleteFailure({ logicalId: 'Logs' });
    await cfn.send(new DeleteStackCommand({ StackName: 'stuck' }));
    expect(await status(cfn, 'stuck')).toBe('DELETE_FAILED');
    await cfn.send(new DeleteStackCommand({ StackName: stackId }));
    expect(await status(cfn, stackId)).toBe('DELETE_COMPLETE');
    expect(await liveEndpoints(ec2, net.vpcId)).toEqual([]);
  });

  it('RetainResources deletes a DELETE_FAILED stack and keeps the retained resources', async () => {
    const { ec2, cfn, net, stackId } = await endpointStack();
    await emu().cloudformation.deleteFailure({ logicalId: 'Logs', times: 5 });
    await cfn.send(new DeleteStackCommand({ StackName: 'stuck' }));
    await cfn.send(new DeleteStackCommand({ StackName: stackId }));
    expect(await status(cfn, stackId)).toBe('DELETE_FAILED');
    await cfn.send(new DeleteStackCommand({ StackName: stackId, RetainResources: ['Logs', 'EndpointSg'] }));
    expect(await status(cfn, stackId)).toBe('DELETE_COMPLETE');
    const left = await liveEndpoints(ec2, net.vpcId);
    expect(left.map((e) => e.ServiceName)).toEqual(['com.amazonaws.us-east-1.logs']);
    const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: stackId }))).StackEvents!;
    expect(
      events.filter(
        (e) => e.ResourceType === 'AWS::CloudFormation::Stack' && e.ResourceStatus === 'DELETE_FAILED',
      ),
    ).toHaveLength(2);
  });

  it('refuses RetainResources for a stack that is not DELETE_FAILED, and changes nothing', async () => {
    const { ec2, cfn, net } = await endpointStack();
    await expect(
      cfn.send(new DeleteStackCommand({ StackName: 'stuck', RetainResources: ['Logs'] })),
    ).rejects.toMatchObject({ name: 'ValidationError', message: expect.stringMatching(/DELETE_FAILED/) });
    expect(await status(cfn, 'stuck')).toBe('CREATE_COMPLETE');
    expect(await liveEndpoints(ec2, net.vpcId)).toHaveLength(3);
  });
});

// AWS expands `Transform: AWS::Serverless-2016-10-31` inside CloudFormation when the change set is
// created ("AWS::Serverless transform", AWS CloudFormation User Guide:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-serverless.html),
// so a SAM template deploys with `aws cloudformation deploy` alone. moto would store it as is and
// skip the AWS::Serverless::* resources; the harness expands it like CloudFormation.
const SAM_TEMPLATE = JSON.stringify({
  AWSTemplateFormatVersion: '2010-09-09',
  Transform: 'AWS::Serverless-2016-10-31',
  Parameters: { Greeting: { Type: 'String' } },
  Resources: {
    Fn: {
      Type: 'AWS::Serverless::Function',
      Properties: {
        InlineCode: 'exports.handler = async () => 1;',
        Handler: 'index.handler',
        Runtime: 'nodejs22.x',
        Environment: { Variables: { GREETING: { Ref: 'Greeting' } } },
      },
    },
  },
});

describe('CloudFormation change sets with the AWS::Serverless-2016-10-31 transform', () => {
  it('expands the SAM resources when the change set is created: the function and its generated role exist after executing it', async () => {
    const { cfn } = clients(emu());
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'sam-stack',
        ChangeSetName: 'create',
        ChangeSetType: 'CREATE',
        TemplateBody: SAM_TEMPLATE,
        Parameters: [{ ParameterKey: 'Greeting', ParameterValue: 'hello world' }],
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    const changeSet = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id! }));
    expect(changeSet.Status).toBe('CREATE_COMPLETE');
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id! }));
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: 'sam-stack' }))).Stacks![0]!;
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    const resources = (await cfn.send(new DescribeStackResourcesCommand({ StackName: 'sam-stack' })))
      .StackResources!;
    const byId = Object.fromEntries(resources.map((r) => [r.LogicalResourceId, r]));
    expect(byId['Fn']?.ResourceType).toBe('AWS::Lambda::Function');
    expect(byId['Fn']?.ResourceStatus).toBe('CREATE_COMPLETE');
    expect(byId['FnRole']?.ResourceType).toBe('AWS::IAM::Role');
  });

  it('refuses a second CREATE change set for a stack that exists (a retried request never makes a second stack)', async () => {
    const { cfn } = clients(emu());
    const input = {
      StackName: 'sam-once',
      ChangeSetType: 'CREATE' as const,
      TemplateBody: SAM_TEMPLATE,
      Parameters: [{ ParameterKey: 'Greeting', ParameterValue: 'x' }],
    };
    await cfn.send(new CreateChangeSetCommand({ ...input, ChangeSetName: 'first' }));
    await expect(
      cfn.send(new CreateChangeSetCommand({ ...input, ChangeSetName: 'second' })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Stack [sam-once] already exists and cannot be created again with the changeSet [second].',
    });
  });

  it('fails the change set, naming the transform, when the SAM translator rejects the template', async () => {
    const { cfn } = clients(emu());
    const bad = JSON.parse(SAM_TEMPLATE);
    bad.Resources.Fn.Properties.Events = { Bad: { Type: 'NoSuchEventSource' } };
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'sam-bad',
        ChangeSetName: 'create',
        ChangeSetType: 'CREATE',
        TemplateBody: JSON.stringify(bad),
        Parameters: [{ ParameterKey: 'Greeting', ParameterValue: 'x' }],
      }),
    );
    const changeSet = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id! }));
    expect(changeSet.Status).toBe('FAILED');
    expect(changeSet.StatusReason).toMatch(/^Transform AWS::Serverless-2016-10-31 failed with: /);
  });
});

// DescribeStackResource "Returns a description of the specified resource in the specified stack"
// (AWS CloudFormation API Reference, DescribeStackResource); ListStackResources "Returns
// descriptions of all resources of the specified stack". moto keeps None in a stack's resource map
// for a type it cannot create (here AWS::Lambda::EventInvokeConfig, which every netkit template
// has), and both calls crashed on it ('NoneType' object has no attribute 'logical_resource_id').
describe('CloudFormation reads of a stack holding a resource type moto does not create', () => {
  const template = JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: {
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          },
        },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
          Code: { ZipFile: 'exports.handler = async () => 1;' },
        },
      },
      FnInvokeConfig: {
        Type: 'AWS::Lambda::EventInvokeConfig',
        Properties: { FunctionName: { Ref: 'Fn' }, Qualifier: '$LATEST', MaximumRetryAttempts: 2 },
      },
    },
  });

  it('DescribeStackResource and ListStackResources answer for the resources that exist', async () => {
    const { cfn } = clients(emu());
    await cfn.send(
      new CreateStackCommand({
        StackName: 'with-gap',
        TemplateBody: template,
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    const fn = await cfn.send(
      new DescribeStackResourceCommand({ StackName: 'with-gap', LogicalResourceId: 'Fn' }),
    );
    expect(fn.StackResourceDetail?.ResourceType).toBe('AWS::Lambda::Function');
    expect(fn.StackResourceDetail?.PhysicalResourceId).toContain('with-gap');
    const listed = await cfn.send(new ListStackResourcesCommand({ StackName: 'with-gap' }));
    expect(listed.StackResourceSummaries?.map((r) => r.LogicalResourceId)).toContain('Fn');
    await expect(
      cfn.send(new DescribeStackResourceCommand({ StackName: 'with-gap', LogicalResourceId: 'Nope' })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Resource Nope does not exist for stack with-gap',
    });
  });
});
