import { DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients, network } from './support/aws.ts';

const emu = useEmulator();

async function fargateWorld() {
  const { ec2, ecs } = clients(emu());
  const net = await network(ec2);
  await ecs.send(new CreateClusterCommand({ clusterName: 'jobs' }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'worker',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        { name: 'main', image: 'public.ecr.aws/docker/library/busybox:latest', essential: true },
      ],
    }),
  );
  return { net, ec2, ecs };
}

describe('ECS awsvpc tasks', () => {
  it('runs a FARGATE task with awsvpcConfiguration and returns it with the given startedBy', async () => {
    const { net, ec2, ecs } = await fargateWorld();
    const out = await ecs.send(
      new RunTaskCommand({
        cluster: 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        startedBy: 'endpoint-lease/abc',
        networkConfiguration: {
          awsvpcConfiguration: { subnets: [net.subnetA], securityGroups: [], assignPublicIp: 'DISABLED' },
        },
      }),
    );
    expect(out.failures).toEqual([]);
    expect(out.tasks).toHaveLength(1);
    const task = out.tasks![0]!;
    expect(task.startedBy).toBe('endpoint-lease/abc');
    expect(task.launchType).toBe('FARGATE');
    const eniDetail = task.attachments?.[0]?.details?.find((d) => d.name === 'networkInterfaceId');
    expect(eniDetail?.value).toMatch(/^eni-/);
    const enis = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniDetail!.value!] }),
    );
    expect(enis.NetworkInterfaces![0]!.SubnetId).toBe(net.subnetA);
  });

  it('finds tasks with ListTasks(startedBy), describes them and stops them', async () => {
    const { net, ecs } = await fargateWorld();
    const run = (startedBy: string) =>
      ecs.send(
        new RunTaskCommand({
          cluster: 'jobs',
          taskDefinition: 'worker',
          launchType: 'FARGATE',
          startedBy,
          networkConfiguration: { awsvpcConfiguration: { subnets: [net.subnetA] } },
        }),
      );
    const mine = (await run('lease-1')).tasks![0]!.taskArn!;
    await run('lease-2');
    const listed = await ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1' }));
    expect(listed.taskArns).toEqual([mine]);
    const described = await ecs.send(new DescribeTasksCommand({ cluster: 'jobs', tasks: [mine] }));
    expect(described.tasks![0]!.startedBy).toBe('lease-1');
    expect(described.tasks![0]!.desiredStatus).toBe('RUNNING');

    const stopped = await ecs.send(
      new StopTaskCommand({ cluster: 'jobs', task: mine, reason: 'lease ended' }),
    );
    expect(stopped.task?.desiredStatus).toBe('STOPPED');
    const defaultFilter = await ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1' }));
    expect(defaultFilter.taskArns).toEqual([]); // ListTasks defaults to desiredStatus RUNNING
    const stoppedList = await ecs.send(new ListTasksCommand({ cluster: 'jobs', desiredStatus: 'STOPPED' }));
    expect(stoppedList.taskArns).toEqual([mine]);
    const after = await ecs.send(new DescribeTasksCommand({ cluster: 'jobs', tasks: [mine] }));
    expect(after.tasks![0]!.stoppedReason).toBe('lease ended');
  });

  it('rejects ListTasks with startedBy and another filter (startedBy must be the only filter)', async () => {
    // ListTasks API reference, startedBy: "When you specify startedBy as the filter, it must be
    // the only filter that you use." What AWS does otherwise is undocumented; the harness rejects it.
    const { ecs } = await fargateWorld();
    await awsError(
      ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1', desiredStatus: 'RUNNING' })),
      'InvalidParameterException',
      400,
    );
    await awsError(
      ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1', family: 'worker' })),
      'InvalidParameterException',
      400,
    );
  });

  it('deletes the task ENI when the task stops and maps a public IP when assignPublicIp is ENABLED', async () => {
    const { net, ec2, ecs } = await fargateWorld();
    const out = await ecs.send(
      new RunTaskCommand({
        cluster: 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [net.subnetA], assignPublicIp: 'ENABLED' } },
      }),
    );
    const task = out.tasks![0]!;
    const eniId = task.attachments![0]!.details!.find((d) => d.name === 'networkInterfaceId')!.value!;
    const eni = (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] })))
      .NetworkInterfaces![0]!;
    expect(eni.Status).toBe('in-use');
    expect(eni.Association?.PublicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await ecs.send(new StopTaskCommand({ cluster: 'jobs', task: task.taskArn! }));
    await awsError(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] })),
      'InvalidNetworkInterfaceID.NotFound',
    );
  });
});

// ECS API reference, "Ensuring idempotency" / "Idempotency for RunTask": a retry with the same
// client token and the same parameters returns the original result; the same token with different
// parameters fails with ConflictException; tokens are scoped to the cluster and live 24 hours.
describe('ECS RunTask clientToken idempotency', () => {
  async function runWith(
    w: Awaited<ReturnType<typeof fargateWorld>>,
    clientToken: string | undefined,
    extra: { startedBy?: string; cluster?: string; count?: number } = {},
  ) {
    return w.ecs.send(
      new RunTaskCommand({
        cluster: extra.cluster ?? 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        count: extra.count ?? 1,
        startedBy: extra.startedBy ?? 'job',
        networkConfiguration: { awsvpcConfiguration: { subnets: [w.net.subnetA] } },
        clientToken,
      }),
    );
  }

  it('replays the original result for the same token and parameters, starting no new task', async () => {
    const w = await fargateWorld();
    const first = await runWith(w, 'token-1');
    const again = await runWith(w, 'token-1');
    expect(again.tasks?.map((t) => t.taskArn)).toEqual(first.tasks?.map((t) => t.taskArn));
    const listed = await w.ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'job' }));
    expect(listed.taskArns).toHaveLength(1);
    // The original result, even after the task stopped.
    await w.ecs.send(new StopTaskCommand({ cluster: 'jobs', task: first.tasks![0]!.taskArn! }));
    const third = await runWith(w, 'token-1');
    expect(third.tasks?.map((t) => t.taskArn)).toEqual(first.tasks?.map((t) => t.taskArn));
    expect(third.tasks?.[0]?.desiredStatus).toBe('RUNNING');
    expect((await w.ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'job' }))).taskArns).toEqual(
      [],
    );
  });

  it('answers ConflictException for the same token with other parameters', async () => {
    const w = await fargateWorld();
    const first = await runWith(w, 'token-2');
    const error = await awsError(runWith(w, 'token-2', { startedBy: 'other' }), 'ConflictException', 400);
    expect((error as unknown as { resourceIds?: string[] }).resourceIds).toEqual([first.tasks![0]!.taskArn]);
    await awsError(runWith(w, 'token-2', { count: 2 }), 'ConflictException', 400);
  });

  it('scopes tokens to the cluster and starts new tasks without a token or with a new one', async () => {
    const w = await fargateWorld();
    await w.ecs.send(new CreateClusterCommand({ clusterName: 'other' }));
    const a = await runWith(w, 'token-3');
    const b = await runWith(w, 'token-3', { cluster: 'other' });
    expect(b.tasks?.[0]?.taskArn).not.toBe(a.tasks?.[0]?.taskArn);
    const c = await runWith(w, 'token-4');
    const d = await runWith(w, undefined);
    const e = await runWith(w, undefined);
    const arns = new Set([a, c, d, e].map((r) => r.tasks?.[0]?.taskArn));
    expect(arns.size).toBe(4);
  });

  it('rejects a token longer than 64 characters or outside ASCII 33-126', async () => {
    const w = await fargateWorld();
    await awsError(runWith(w, 'x'.repeat(65)), 'InvalidParameterException', 400);
    await awsError(runWith(w, 'has space'), 'InvalidParameterException', 400);
  });
});

describe('ECS injected capacity failure', () => {
  it('answers the next RunTask with a capacity failure, then starts tasks again', async () => {
    const w = await fargateWorld();
    await emu().ecs.capacityFailure();
    const failed = await w.ecs.send(
      new RunTaskCommand({
        cluster: 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [w.net.subnetA] } },
      }),
    );
    expect(failed.tasks).toEqual([]);
    expect(failed.failures).toEqual([
      {
        reason:
          'Capacity is unavailable at this time. Please try again later or in a different availability zone',
      },
    ]);
    expect((await w.ecs.send(new ListTasksCommand({ cluster: 'jobs' }))).taskArns).toEqual([]);
    const ok = await w.ecs.send(
      new RunTaskCommand({
        cluster: 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [w.net.subnetA] } },
      }),
    );
    expect(ok.tasks).toHaveLength(1);
  });

  it('replays the capacity failure for the same clientToken; a new token starts the task', async () => {
    const w = await fargateWorld();
    await emu().ecs.capacityFailure({ cluster: 'jobs', times: 1 });
    const request = (clientToken: string) =>
      new RunTaskCommand({
        cluster: 'jobs',
        taskDefinition: 'worker',
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [w.net.subnetA] } },
        clientToken,
      });
    expect((await w.ecs.send(request('req-1'))).failures).toHaveLength(1);
    const replay = await w.ecs.send(request('req-1'));
    expect(replay.tasks).toEqual([]);
    expect(replay.failures?.[0]?.reason).toMatch(/^Capacity is unavailable/);
    const fresh = await w.ecs.send(request('req-1-1'));
    expect(fresh.tasks).toHaveLength(1);
    expect(fresh.failures).toEqual([]);
  });

  it('limits the failure to the given cluster and is cleared by reset()', async () => {
    const w = await fargateWorld();
    await w.ecs.send(new CreateClusterCommand({ clusterName: 'other' }));
    await emu().ecs.capacityFailure({ cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/other' });
    const run = (cluster: string) =>
      w.ecs.send(
        new RunTaskCommand({
          cluster,
          taskDefinition: 'worker',
          launchType: 'FARGATE',
          networkConfiguration: { awsvpcConfiguration: { subnets: [w.net.subnetA] } },
        }),
      );
    expect((await run('jobs')).tasks).toHaveLength(1);
    expect((await run('other')).tasks).toEqual([]);
    await emu().ecs.capacityFailure({ times: 5 });
    await emu().reset();
    const again = await fargateWorld();
    expect(
      (
        await again.ecs.send(
          new RunTaskCommand({
            cluster: 'jobs',
            taskDefinition: 'worker',
            launchType: 'FARGATE',
            networkConfiguration: { awsvpcConfiguration: { subnets: [again.net.subnetA] } },
          }),
        )
      ).tasks,
    ).toHaveLength(1);
  });
});
