import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type State,
} from '@aws-sdk/client-ec2';
import { ECSClient, ListTasksCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { silentLogger } from '@netkit/aws-core/observability';
import { fakeContext, loadEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createAcquireHandler, createReaperHandler } from '../../src/handlers.ts';
import { leaseTagKey, reapTagKey } from '../../src/lease.ts';
import { validEnv } from '../support/env.ts';

const cfn = mockClient(CloudFormationClient);
const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const config = loadConfig({
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
          { OutputKey: 'S3GatewayEndpoint', OutputValue: 'vpce-2' },
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
  };
  return { clock, deps };
}

beforeEach(() => {
  cfn.reset();
  ec2.reset();
  ecs.reset();
  ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: config.vpcId, CidrBlock: '10.0.0.0/16' }] });
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
      .resolvesOnce(stack('CREATE_IN_PROGRESS', clock.now()))
      .resolvesOnce(stack('CREATE_IN_PROGRESS', clock.now()))
      .resolves(stack('CREATE_COMPLETE', clock.now()));
    cfn.on(CreateStackCommand).resolves({ StackId: STACK_ID });
    const out = await createAcquireHandler(deps, config)(
      { count: 1 },
      { ...fakeContext(300_000, clock.now), awsRequestId: 'r1' },
    );
    expect(out).toMatchObject({
      status: 'started',
      created: true,
      taskArns: ['arn:aws:ecs:us-east-1:123456789012:task/jobs/t1'],
    });
    expect(cfn).toHaveReceivedCommandTimes(CreateStackCommand, 1);
    const create = cfn.commandCalls(CreateStackCommand)[0]!.args[0].input;
    expect(create.OnFailure).toBe('DELETE');
    expect(create.TemplateBody).toContain('10.0.0.0/16');
    expect(create.TemplateBody).not.toContain('0.0.0.0/0');
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
    expect(out).toMatchObject({ status: 'started', created: false });
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
    expect(out).toMatchObject({ status: 'started', created: true, stackId: `${STACK_ID}-new` });
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
    ['EventBridge detail with junk', { ...loadEvent('scheduler/scheduled'), detail: { junk: true } }],
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

describe('reaper handler', () => {
  it('announces, settles, re-reads and deletes an idle stack at the end of its hour', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    cfn.on(DeleteStackCommand).resolves({});
    const out = await createReaperHandler(deps, config)(
      loadEvent('scheduler/scheduled'),
      fakeContext(60_000, clock.now),
    );
    expect(out).toMatchObject({ action: 'deleted', reason: 'idle-hour-ending' });
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
    expect(out).toMatchObject({ action: 'keep', reason: 'lease' });
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
          VpcEndpointType: 'Gateway',
          CreationTimestamp: new Date(clock.now() - 54 * 60_000),
        },
      ],
    });
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ action: 'keep', reason: 'hour-paid' });
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
    expect(out).toMatchObject({ action: 'deleted', reason: 'idle-hour-ending' });
  });

  it('keeps a stack with a running task and makes no write', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    ecs.on(ListTasksCommand).resolves({ taskArns: ['t1'] });
    const out = await createReaperHandler(deps, config)({}, fakeContext(60_000, clock.now));
    expect(out).toMatchObject({ action: 'keep', reason: 'tasks', activeTasks: 1 });
    expect(ec2).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  });

  it('does not start a delete it cannot finish before its own deadline', async () => {
    const { clock, deps } = setup();
    cfn.on(DescribeStacksCommand).resolves(stack('CREATE_COMPLETE', clock.now() - 55 * 60_000));
    const out = await createReaperHandler(deps, config)({}, fakeContext(20_000, clock.now));
    expect(out).toMatchObject({ action: 'keep', reason: 'no-time' });
    expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  });
});
