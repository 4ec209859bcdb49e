import {
  ConflictException,
  DescribeTasksCommand,
  ECSClient,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { silentLogger } from '@netkit/aws-core/observability';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TaskStartError } from '../../src/errors.ts';
import {
  MAX_RUN_TASK_TOKENS,
  runTaskToken,
  STOP_REASON,
  type StartRequest,
  startTasks,
} from '../../src/run-task.ts';

const ecs = mockClient(ECSClient);
const CLUSTER = 'arn:aws:ecs:us-east-1:123456789012:cluster/jobs';
const arn = (id: string) => `arn:aws:ecs:us-east-1:123456789012:task/jobs/${id}`;
const CAPACITY =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';

function request(count = 1): StartRequest {
  return {
    input: { cluster: CLUSTER, taskDefinition: 'td', launchType: 'FARGATE', count, startedBy: 'x' },
    tokenBase: 'req-1',
    invocationRef: 'acquire-2',
  };
}

/** What ECS answers when the token was used by an earlier invocation (another referenceId). */
function conflict(resourceIds: string[]) {
  return new ConflictException({ message: 'clientToken already in use', $metadata: {}, resourceIds });
}

const deps = () => ({ ecs: new ECSClient({}), logger: silentLogger });
const tokens = () => ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.clientToken);

beforeEach(() => ecs.reset());

describe('runTaskToken', () => {
  it('is the request id first, then the id with -n, always 64 characters at most', () => {
    expect(runTaskToken('abc', 0)).toBe('abc');
    expect(runTaskToken('abc', 3)).toBe('abc-3');
    const long = 'x'.repeat(80);
    expect(runTaskToken(long, 0)).toHaveLength(64);
    expect(runTaskToken(long, 12)).toHaveLength(64);
    expect(runTaskToken(long, 12).endsWith('-12')).toBe(true);
    expect(runTaskToken('a b\u00e9', 0)).toBe('a_b_');
  });
});

describe('startTasks', () => {
  it('starts the tasks with the request id as token and the invocation reference', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: arn('t1') }], failures: [] });
    const out = await startTasks(deps(), request());
    expect(out).toEqual({ taskArns: [arn('t1')], clientToken: 'req-1', adopted: false });
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, {
      clientToken: 'req-1',
      referenceId: 'acquire-2',
      count: 1,
    });
    expect(ecs).not.toHaveReceivedCommand(DescribeTasksCommand);
  });

  it('reports a capacity failure in failures[] without retrying in the same invocation', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: CAPACITY }] });
    await expect(startTasks(deps(), request())).rejects.toThrow(TaskStartError);
    await expect(startTasks(deps(), request())).rejects.toThrow(/Capacity is unavailable/);
    expect(tokens()).toEqual(['req-1', 'req-1']);
    expect(ecs).not.toHaveReceivedCommand(StopTaskCommand);
  });

  it('stops a partial batch with the failed-start reason', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: arn('t1') }], failures: [{ reason: CAPACITY }] });
    await expect(startTasks(deps(), request(2))).rejects.toThrow('RunTask started 1 of 2 tasks');
    expect(ecs).toHaveReceivedCommandWith(StopTaskCommand, { task: arn('t1'), reason: STOP_REASON });
  });

  it('moves past a token whose earlier start failed with no task (the Lambda retry of a capacity failure)', async () => {
    ecs
      .on(RunTaskCommand, { clientToken: 'req-1' })
      .rejects(conflict([]))
      .on(RunTaskCommand, { clientToken: 'req-1-1' })
      .resolves({ tasks: [{ taskArn: arn('t2') }], failures: [] });
    const out = await startTasks(deps(), request());
    expect(out).toEqual({ taskArns: [arn('t2')], clientToken: 'req-1-1', adopted: false });
    expect(tokens()).toEqual(['req-1', 'req-1-1']);
    expect(ecs).not.toHaveReceivedCommand(DescribeTasksCommand);
  });

  it('moves past a token whose tasks this package stopped (the stack changed under them)', async () => {
    ecs
      .on(RunTaskCommand, { clientToken: 'req-1' })
      .rejects(conflict([arn('t1')]))
      .on(RunTaskCommand, { clientToken: 'req-1-1' })
      .resolves({ tasks: [{ taskArn: arn('t2') }], failures: [] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [{ taskArn: arn('t1'), desiredStatus: 'STOPPED', stoppedReason: STOP_REASON }],
    });
    const out = await startTasks(deps(), request());
    expect(out.taskArns).toEqual([arn('t2')]);
    expect(ecs).toHaveReceivedCommandWith(DescribeTasksCommand, { cluster: CLUSTER, tasks: [arn('t1')] });
    expect(ecs).not.toHaveReceivedCommand(StopTaskCommand);
  });

  it('adopts the tasks an earlier invocation started in full (its outcome was unknown) and starts none', async () => {
    ecs.on(RunTaskCommand).rejects(conflict([arn('t1'), arn('t2')]));
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        { taskArn: arn('t1'), desiredStatus: 'RUNNING' },
        { taskArn: arn('t2'), desiredStatus: 'STOPPED', stoppedReason: 'Essential container exited' },
      ],
    });
    const out = await startTasks(deps(), request(2));
    expect(out).toEqual({ taskArns: [arn('t1'), arn('t2')], clientToken: 'req-1', adopted: true });
    expect(tokens()).toEqual(['req-1']);
  });

  it('stops what is left of an earlier partial batch, then uses the next token', async () => {
    ecs
      .on(RunTaskCommand, { clientToken: 'req-1' })
      .rejects(conflict([arn('t1')]))
      .on(RunTaskCommand, { clientToken: 'req-1-1' })
      .resolves({ tasks: [{ taskArn: arn('t3') }, { taskArn: arn('t4') }], failures: [] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: arn('t1'), desiredStatus: 'RUNNING' }] });
    const out = await startTasks(deps(), request(2));
    expect(out.taskArns).toEqual([arn('t3'), arn('t4')]);
    expect(ecs).toHaveReceivedCommandWith(StopTaskCommand, { task: arn('t1'), reason: STOP_REASON });
  });

  it('gives up with a clear error once every token of the request was used by a failed start', async () => {
    ecs.on(RunTaskCommand).rejects(conflict([]));
    await expect(startTasks(deps(), request())).rejects.toThrow(
      `all ${MAX_RUN_TASK_TOKENS} client tokens of request req-1`,
    );
    expect(tokens()).toHaveLength(MAX_RUN_TASK_TOKENS);
  });

  it('lets any other RunTask error through without trying another token (outcome unknown)', async () => {
    ecs.on(RunTaskCommand).rejects(Object.assign(new Error('boom'), { name: 'ServerException' }));
    await expect(startTasks(deps(), request())).rejects.toThrow('boom');
    expect(tokens()).toEqual(['req-1']);
  });
});
