import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  type State,
} from '@aws-sdk/client-ec2';
import {
  DescribeTaskDefinitionCommand,
  ECSClient,
  ECSServiceException,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { silentLogger } from '@netkit/aws-core/observability';
import { fakeContext, loadEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadAcquireConfig } from '../../src/config.ts';
import { type AcquireHandlerDeps, createAcquireHandler } from '../../src/create-acquire-handler.ts';
import { createReaperHandler } from '../../src/create-reaper-handler.ts';
import { leaseTagKey, reapTagKey } from '../../src/lease.ts';
import { validEnv } from '../support/env.ts';

const cfn = mockClient(CloudFormationClient);
const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const config = loadAcquireConfig({
  ...validEnv,
  CONSISTENCY_SETTLE_SECONDS: '10',
  BILLING_ANCHOR: 'endpoint-creation',
});
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/fargate-endpoints/1';

function stack(status: string, createdAt: number, id = STACK_ID) {
  return {
    Stacks: [
      {
        StackName: config.stackName,
        StackId: id,
        StackStatus: status as 'CREATE_COMPLETE',
        CreationTime: new Date(createdAt),
        Outputs: [
          { OutputKey: 'EndpointLogs', OutputValue: 'vpce-1' },
          { OutputKey: 'EndpointEcrApi', OutputValue: 'vpce-2' },
        ],
      },
    ],
  };
}

const notFound = Object.assign(new Error('Stack with id fargate-endpoints does not exist'), {
  name: 'ValidationError',
});

function setup() {
  const clock = manualClock();
  const deps = {
    cfn: new CloudFormationClient({}),
    ec2: new EC2Client({}),
    ecs: new ECSClient({}),
    clock,
    logger: silentLogger,
    metrics: { addMetric() {}, publishStoredMetrics() {} } as unknown as AcquireHandlerDeps['metrics'],
  };
  return { clock, deps };
}

beforeEach(() => {
  cfn.reset();
  ec2.reset();
  ecs.reset();
  ec2.on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' }).resolves({
    EnableDnsSupport: { Value: true },
  });
  ec2.on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' }).resolves({
    EnableDnsHostnames: { Value: true },
  });
  ec2.on(DescribeSubnetsCommand).resolves({
    Subnets: config.endpointSubnetIds.map((id, i) => ({
      SubnetId: id,
      VpcId: config.vpcId,
      AvailabilityZone: `us-east-1${'abc'[i]}`,
    })),
  });
  ecs.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: {
      cpu: '256',
      memory: '1024',
      containerDefinitions: [{ name: 'app' }, { name: 'sidecar' }],
    },
  });
  ec2.on(DescribeVpcEndpointsCommand).resolves({
    VpcEndpoints: [
      { VpcEndpointId: 'vpce-1', State: 'available' as State },
      { VpcEndpointId: 'vpce-2', State: 'available' as State },
    ],
  });
  ec2.on(CreateTagsCommand).resolves({});
  ec2.on(DeleteTagsCommand).resolves({});
  ec2.on(DescribeTagsCommand).resolves({ Tags: [] });
  ecs
    .on(RunTaskCommand)
    .resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/jobs/t1' }] });
  ecs.on(ListTasksCommand).resolves({ taskArns: [] });
});

describe('acquire handler', () => {
  it('creates the stack when absent, waits for it, then runs the task with startedBy and no public IP', async () => {
    const { clock, deps } = setup();
    cfn
      .on(DescribeStacksCommand)
      .rejectsOnce(notFound)
      .rejectsOnce(notFound)
      .resolvesOnce(stack('CREATE_IN_PROGRESS', clock.now()))
      .resolvesOnce(stack('CREATE_IN_PROGRESS', clock.now()))
      .resolves(stack('CREATE_COMPLETE', clock.now()));
    cfn.on(CreateStackCommand).resolves({ StackId: STACK_ID });
    const out = await createAcquireHandler(deps, config)(
      { count: 1 },
      { ...fakeContext(300_000, clock.now), awsRequestId: 'r1' },
    );
    expect(out).toMatchObject({
      status: 'done',
      action: 'started',
      created: true,
      taskArns: ['arn:aws:ecs:us-east-1:123456789012:task/jobs/t1'],
    });
    expect(cfn).toHaveReceivedCommandTimes(CreateStackCommand, 1);
    const create = cfn.commandCalls(CreateStackCommand)[0]!.args[0].input;
    expect(create.OnFailure).toBe('DELETE');
    const body = JSON.parse(create.TemplateBody as string);
    // 443 from the task security groups only, no CIDR; no S3 gateway endpoint (permanent template).
    expect(body.Resources.EndpointSecurityGroup.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: config.taskSecurityGroupIds[0],
      }),
    ]);
    expect(create.TemplateBody).not.toContain('CidrIp":"0.0.0.0/0');
    expect(create.TemplateBody).not.toContain('Gateway');
    expect(body.Resources.LogsEndpoint.Properties.SubnetIds).toEqual(config.endpointSubnetIds);
    // The VPC was checked (read-only) before the lease or the stack was written.
    const firstWrite = ec2.calls().findIndex((c) => c.args[0] instanceof CreateTagsCommand);
    const lastCheck = ec2.calls().findLastIndex((c) => c.args[0] instanceof DescribeSubnetsCommand);
    expect(lastCheck).toBeGreaterThanOrEqual(0);
    expect(lastCheck).toBeLessThan(firstWrite);
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, {
      launchType: 'FARGATE',
      startedBy: 'endpoint-lease/fargate-endpoints',
      clientToken: 'r1',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: config.subnetIds,
          securityGroups: config.taskSecurityGroupIds,
          assignPublicIp: 'DISABLED',
        },
      },
    });
    // lease written before the first stack look-up
    const leaseWrite = ec2.commandCalls(CreateTagsCommand)[0]!.args[0].input;
    expect(leaseWrite.Tags?.[0]?.Key).toBe(leaseTagKey(config.stackName));
    expect(clock.sleeps.length).toBeGreaterThan(0);
  });

  it('treats AlreadyExistsException as another acquire creating the stack', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).rejectsOnce(notFound).resolves(stack('CREATE_COMPLETE', clock.now()));
    cfn
      .on(CreateStackCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'AlreadyExistsException' }));
    const out = await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect(out).toMatchObject({ status: 'done', action: 'started', created: false });
  });

  it('waits for a deleting stack to disappear, then creates it again', async () => {
    const { clock, deps } = setup();
    cfn
      .on(DescribeStacksCommand)
      .resolvesOnce(stack('DELETE_IN_PROGRESS', clock.now() - 3_000_000))
      .resolvesOnce(stack('DELETE_IN_PROGRESS', clock.now() - 3_000_000))
      .rejectsOnce(notFound)
      .rejectsOnce(notFound)
      .resolves(stack('CREATE_COMPLETE', clock.now(), `${STACK_ID}-new`));
    cfn.on(CreateStackCommand).resolves({});
    const out = await createAcquireHandler(deps, config)({}, fakeContext(600_000, clock.now));
    expect(out).toMatchObject({
      status: 'done',
      action: 'started',
      created: true,
      stackId: `${STACK_ID}-new`,
    });
  });

  it('replaces a rolled-back stack, bounded', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('ROLLBACK_COMPLETE', clock.now()));
    cfn.on(DeleteStackCommand).resolves({});
    await expect(createAcquireHandler(deps, config)({}, fakeContext(600_000, clock.now))).rejects.toThrow(
      /ROLLBACK_COMPLETE after 2 replacements/,
    );
    expect(cfn).toHaveReceivedCommandTimes(DeleteStackCommand, 2);
    expect(ecs).not.toHaveReceivedCommand(RunTaskCommand);
  });

  it('waits while the reaper holds a fresh delete intent', async () => {
    const { clock, deps } = setup();
    const intent = `${new Date(clock.now() + 20_000).toISOString()} reaper-1`;
    ec2
      .on(DescribeTagsCommand)
      .resolvesOnce({ Tags: [{ Key: reapTagKey(config.stackName), Value: intent }] })
      .resolves({ Tags: [] });
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect(ec2).toHaveReceivedCommandTimes(DescribeTagsCommand, 2);
    expect(clock.sleeps).toHaveLength(1);
  });

  it('stops the tasks and fails when the stack changed under them', async () => {
    const { clock, deps } = setup();
    cfn
      .on(DescribeStacksCommand)
      .resolvesOnce(stack('CREATE_COMPLETE', clock.now()))
      .resolvesOnce(stack('CREATE_COMPLETE', clock.now()))
      .resolves(stack('DELETE_IN_PROGRESS', clock.now()));
    ecs.on(StopTaskCommand).resolves({});
    await expect(createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now))).rejects.toThrow(
      /changed/,
    );
    expect(ecs).toHaveReceivedCommandTimes(StopTaskCommand, 1);
  });

  it('stops a partial batch when RunTask starts fewer tasks than asked', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 't1' }], failures: [{ reason: 'RESOURCE:ENI' }] });
    ecs.on(StopTaskCommand).resolves({});
    await expect(
      createAcquireHandler(deps, config)({ count: 2 }, fakeContext(300_000, clock.now)),
    ).rejects.toThrow(/started 1 of 2 tasks: RESOURCE:ENI/);
    expect(ecs).toHaveReceivedCommandWith(StopTaskCommand, { task: 't1' });
  });

  it.each([
    ['a string', 'run'],
    ['count 0', { count: 0 }],
    ['count 11', { count: 11 }],
    ['unknown key', { cont: 1 }],
    ['overrides not an object', { overrides: [] }],
    ['bad container name', { overrides: { containerOverrides: [{ name: 'a b' }] } }],
    ['command not strings', { overrides: { containerOverrides: [{ name: 'app', command: [1] }] } }],
    [
      'bad env var',
      { overrides: { containerOverrides: [{ name: 'app', environment: [{ name: '1X', value: 'v' }] }] } },
    ],
    ['cpu as number', { overrides: { cpu: 1024 } }],
    // Fargate's task sizes (ECS Developer Guide, "Task size"): issue #27 finding 3 wrote the lease and
    // called RunTask for these.
    ['cpu "999999"', { overrides: { cpu: '999999' } }],
    ['memory "0"', { overrides: { memory: '0' } }],
    ['memory "1000" (no CPU value takes it)', { overrides: { memory: '1000' } }],
    ['cpu 1024 with memory 512', { overrides: { cpu: '1024', memory: '512' } }],
    ['cpu 4096 with memory 31744 (above 30 GB)', { overrides: { cpu: '4096', memory: '31744' } }],
    ['cpu 16384 with memory 36864 (not an 8 GB step)', { overrides: { cpu: '16384', memory: '36864' } }],
    ['EventBridge detail with junk', { ...loadEvent('scheduler/scheduled'), detail: { junk: true } }],
    ['an EventBridge event from another source', { ...loadEvent('scheduler/scheduled'), source: 'aws.ecs' }],
    [
      'a wrong-source EventBridge event without detail',
      { 'detail-type': 'ECS Task State Change', source: 'aws.ecs', id: 'x' },
    ],
    ['an accepted source without detail', { 'detail-type': 'Scheduled Event', source: 'aws.events' }],
    [
      '11 container overrides',
      { overrides: { containerOverrides: Array.from({ length: 11 }, (_, i) => ({ name: `c${i}` })) } },
    ],
    ['a container named twice', { overrides: { containerOverrides: [{ name: 'app' }, { name: 'app' }] } }],
    [
      'a 1 MB environment value',
      {
        overrides: {
          containerOverrides: [{ name: 'app', environment: [{ name: 'BIG', value: 'x'.repeat(1_000_000) }] }],
        },
      },
    ],
  ])('rejects %s without any AWS call', async (_name, event) => {
    const { clock, deps } = setup();
    const out = await createAcquireHandler(deps, config)(event, fakeContext(300_000, clock.now));
    expect(out).toMatchObject({ status: 'rejected' });
    expect(ec2.calls()).toHaveLength(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(ecs.calls()).toHaveLength(0);
  });

  it('passes valid overrides through and uses the EventBridge event id as the idempotency token', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    const event = {
      ...loadEvent('scheduler/scheduled'),
      detail: {
        overrides: {
          cpu: '512',
          containerOverrides: [
            { name: 'app', command: ['sync'], environment: [{ name: 'MODE', value: 'full' }] },
          ],
        },
      },
    };
    await createAcquireHandler(deps, config)(event, fakeContext(300_000, clock.now));
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, {
      clientToken: event.id,
      overrides: {
        cpu: '512',
        containerOverrides: [
          { name: 'app', command: ['sync'], environment: [{ name: 'MODE', value: 'full' }] },
        ],
      },
    });
  });
});

describe('acquire handler: requests ECS or the VPC can never accept', () => {
  const writes = () => [
    ...ec2.commandCalls(CreateTagsCommand),
    ...cfn.commandCalls(CreateStackCommand),
    ...cfn.commandCalls(DeleteStackCommand),
    ...ecs.commandCalls(RunTaskCommand),
  ];

  it('rejects a cpu or memory override that makes no Fargate task size with the task definition, before any write', async () => {
    // The task definition is 256 CPU units / 1024 MiB: memory 4096 needs at least 512 units.
    for (const overrides of [{ memory: '4096' }, { cpu: '4096' }]) {
      const { clock, deps } = setup();
      cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
      const out = await createAcquireHandler(deps, config)({ overrides }, fakeContext(300_000, clock.now));
      expect(out).toMatchObject({ status: 'rejected' });
      expect((out as { reason: string }).reason).toMatch(/Fargate task size/);
      expect(writes()).toHaveLength(0);
    }
  });

  it('rejects an override for a container the task definition lacks, before any write', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    const out = await createAcquireHandler(deps, config)(
      { overrides: { containerOverrides: [{ name: 'worker' }] } },
      fakeContext(300_000, clock.now),
    );
    expect(out).toMatchObject({ status: 'rejected' });
    expect((out as { reason: string }).reason).toMatch(/"worker".*not a container.*app, sidecar/);
    expect(writes()).toHaveLength(0);
  });

  it.each([
    ['enableDnsSupport', 'EnableDnsSupport'],
    ['enableDnsHostnames', 'EnableDnsHostnames'],
  ] as const)('rejects, naming %s, when the VPC attribute is false (no lease, no stack)', async (attribute, key) => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).rejects(notFound);
    ec2.on(DescribeVpcAttributeCommand, { Attribute: attribute }).resolves({ [key]: { Value: false } });
    const out = await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect(out).toMatchObject({ status: 'rejected' });
    expect((out as { reason: string }).reason).toContain(`${attribute}=false`);
    expect(writes()).toHaveLength(0);
  });

  it('rejects endpoint subnets that share an Availability Zone (no lease, no stack)', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).rejects(notFound);
    ec2.on(DescribeSubnetsCommand).resolves({
      Subnets: config.endpointSubnetIds.map((id) => ({
        SubnetId: id,
        VpcId: config.vpcId,
        AvailabilityZone: 'us-east-1a',
      })),
    });
    const out = await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect((out as { reason: string }).reason).toMatch(
      /both in us-east-1a; .*one subnet per Availability Zone/,
    );
    expect(writes()).toHaveLength(0);
  });

  it('does not re-check the VPC when the stack is already up', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect(ec2).not.toHaveReceivedCommand(DescribeVpcAttributeCommand);
  });

  it.each([
    ['InvalidParameterException', 400],
    ['ClusterNotFoundException', 400],
    ['AccessDeniedException', 400],
  ])('answers rejected (no Lambda retry) when RunTask fails with %s', async (name, status) => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    ecs.on(RunTaskCommand).rejects(
      new ECSServiceException({
        name,
        $fault: 'client',
        $metadata: { httpStatusCode: status },
        message: 'no',
      }),
    );
    const out = await createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now));
    expect(out).toMatchObject({ status: 'rejected' });
    expect((out as { reason: string }).reason).toContain(name);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  });

  it.each([
    ['ServerException', 'server', 500],
    ['ThrottlingException', 'client', 400],
  ] as const)('throws (Lambda retries) when RunTask fails with the transient %s', async (name, fault, status) => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now()));
    ecs.on(RunTaskCommand).rejects(
      new ECSServiceException({
        name,
        $fault: fault,
        $metadata: { httpStatusCode: status },
        message: 'busy',
      }),
    );
    await expect(createAcquireHandler(deps, config)({}, fakeContext(300_000, clock.now))).rejects.toThrow(
      /busy/,
    );
  });
});

describe('DELETE_FAILED: bounded, counted, then retained', () => {
  const deleteFailedEvents = (n: number) => ({
    StackEvents: Array.from({ length: n }, () => ({
      StackId: STACK_ID,
      StackName: config.stackName,
      EventId: 'e',
      Timestamp: new Date(),
      LogicalResourceId: config.stackName,
      ResourceType: 'AWS::CloudFormation::Stack',
      ResourceStatus: 'DELETE_FAILED' as const,
    })),
  });

  function metricsSpy() {
    const added: [string, number][] = [];
    return {
      added,
      metrics: {
        addMetric: (name: string, _unit: unknown, value: number) => void added.push([name, value]),
        publishStoredMetrics: () => {},
      } as unknown as AcquireHandlerDeps['metrics'],
    };
  }

  it('deletes again while the stack has failed fewer than DELETE_ATTEMPTS times, and counts it', async () => {
    const { clock, deps } = setup();
    const { added, metrics } = metricsSpy();
    cfn.on(DescribeStacksCommand).resolves(stack('DELETE_FAILED', clock.now() - 55 * 60_000));
    cfn.on(DescribeStackEventsCommand).resolves(deleteFailedEvents(2));
    cfn.on(DeleteStackCommand).resolves({});
    const out = await createReaperHandler({ ...deps, metrics }, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ status: 'done', action: 'deleted', reason: 'failed' });
    expect(out.retained).toBeUndefined();
    expect(cfn.commandCalls(DeleteStackCommand)[0]!.args[0].input.RetainResources).toBeUndefined();
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourcesCommand);
    expect(added).toEqual([['EndpointStackDeleteFailed', 1]]);
  });

  it('retains what is stuck once the stack has failed DELETE_ATTEMPTS times, and says so', async () => {
    const { clock, deps } = setup();
    const { added, metrics } = metricsSpy();
    const errors: unknown[] = [];
    const logger = { ...silentLogger, error: (...args: unknown[]) => void errors.push(args) };
    cfn.on(DescribeStacksCommand).resolves(stack('DELETE_FAILED', clock.now() - 55 * 60_000));
    cfn.on(DescribeStackEventsCommand).resolves(deleteFailedEvents(3));
    cfn.on(DescribeStackResourcesCommand).resolves({
      StackResources: [
        {
          LogicalResourceId: 'LogsEndpoint',
          PhysicalResourceId: 'vpce-1',
          ResourceType: 'AWS::EC2::VPCEndpoint',
          ResourceStatus: 'DELETE_FAILED',
          ResourceStatusReason: 'stuck',
          Timestamp: new Date(),
        },
        {
          LogicalResourceId: 'EndpointSecurityGroup',
          PhysicalResourceId: 'sg-1',
          ResourceType: 'AWS::EC2::SecurityGroup',
          ResourceStatus: 'CREATE_COMPLETE',
          Timestamp: new Date(),
        },
        {
          LogicalResourceId: 'EcrApiEndpoint',
          ResourceType: 'AWS::EC2::VPCEndpoint',
          ResourceStatus: 'DELETE_COMPLETE',
          Timestamp: new Date(),
        },
      ],
    });
    cfn.on(DeleteStackCommand).resolves({});
    const out = await createReaperHandler({ ...deps, logger, metrics }, config)(
      {},
      fakeContext(60_000, clock.now),
    );
    expect(out).toMatchObject({
      status: 'done',
      action: 'deleted',
      retained: ['LogsEndpoint', 'EndpointSecurityGroup'],
    });
    expect(cfn).toHaveReceivedCommandWith(DeleteStackCommand, {
      StackName: STACK_ID,
      RetainResources: ['LogsEndpoint', 'EndpointSecurityGroup'],
    });
    expect(added).toEqual([
      ['EndpointStackDeleteFailed', 1],
      ['EndpointStackResourcesRetained', 2],
    ]);
    expect(JSON.stringify(errors)).toContain('vpce-1');
  });

  it('never passes RetainResources for a stack that is not DELETE_FAILED', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('ROLLBACK_COMPLETE', clock.now()));
    cfn.on(DeleteStackCommand).resolves({});
    await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(cfn.commandCalls(DeleteStackCommand)[0]!.args[0].input).toEqual({ StackName: config.stackName });
    expect(cfn).not.toHaveReceivedCommand(DescribeStackEventsCommand);
  });
});

describe('reaper handler', () => {
  it('announces, settles, re-reads and deletes an idle stack at the end of its hour', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    cfn.on(DeleteStackCommand).resolves({});
    const out = await createReaperHandler(deps, config)(
      loadEvent('scheduler/scheduled'),
      fakeContext(60_000, clock.now),
    );
    expect(out).toMatchObject({ status: 'done', action: 'deleted', reason: 'idle-hour-ending' });
    expect(clock.sleeps).toEqual([10_000]);
    expect(ec2).toHaveReceivedCommandTimes(DescribeTagsCommand, 2);
    expect(ecs).toHaveReceivedCommandTimes(ListTasksCommand, 2);
    // ListTasks: startedBy must be the only filter (the default status filter is RUNNING).
    for (const call of ecs.commandCalls(ListTasksCommand)) {
      expect(call.args[0].input).toEqual({
        cluster: config.clusterArn,
        startedBy: 'endpoint-lease/fargate-endpoints',
        maxResults: 100,
      });
    }
    expect(ec2).toHaveReceivedCommandWith(DeleteTagsCommand, {
      Tags: [expect.objectContaining({ Key: reapTagKey(config.stackName) })],
    });
  });

  it('cancels the delete when a lease appears during the settle delay', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    ec2
      .on(DescribeTagsCommand)
      .resolvesOnce({ Tags: [] })
      .resolves({
        Tags: [{ Key: leaseTagKey(config.stackName), Value: new Date(clock.now() + 300_000).toISOString() }],
      });
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ status: 'skipped', action: 'keep', reason: 'lease' });
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
    expect(ec2).toHaveReceivedCommand(DeleteTagsCommand);
  });

  it('counts billed hours from the earliest interface endpoint, not from the stack', async () => {
    const { clock, deps } = setup();
    // The stack is 55 min old, but its endpoints were created 40 min ago: 20 min of the hour left.
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: [
        {
          VpcEndpointId: 'vpce-1',
          VpcEndpointType: 'Interface',
          CreationTimestamp: new Date(clock.now() - 40 * 60_000),
        },
        {
          VpcEndpointId: 'vpce-2',
          VpcEndpointType: 'Interface',
          CreationTimestamp: new Date(clock.now() - 30 * 60_000),
        },
      ],
    });
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ status: 'skipped', action: 'keep', reason: 'hour-paid' });
    expect(out.nextCheckAt).toBe(new Date(clock.now() + 10 * 60_000).toISOString());
    expect(ec2).toHaveReceivedCommandWith(DescribeVpcEndpointsCommand, {
      VpcEndpointIds: ['vpce-1', 'vpce-2'],
    });
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  });

  it('falls back to the stack CreationTime when the endpoints cannot be found', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    cfn.on(DeleteStackCommand).resolves({});
    ec2
      .on(DescribeVpcEndpointsCommand)
      .rejects(Object.assign(new Error('gone'), { name: 'InvalidVpcEndpointId.NotFound' }));
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ status: 'done', action: 'deleted', reason: 'idle-hour-ending' });
  });

  it('keeps a stack with a running task and makes no write', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    ecs.on(ListTasksCommand).resolves({ taskArns: ['t1'] });
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ status: 'skipped', action: 'keep', reason: 'tasks', activeTasks: 1 });
    expect(ec2).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  });

  it('does not start a delete it cannot finish before its own deadline', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    const out = await createReaperHandler(deps, config)({}, fakeContext(20_000, clock.now));
    expect(out).toMatchObject({ status: 'skipped', action: 'keep', reason: 'no-time' });
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  });
});
