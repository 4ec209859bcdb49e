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

  it('finds tasks with ListTasks(startedBy, desiredStatus), describes them and stops them', async () => {
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
    const listed = await ecs.send(
      new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1', desiredStatus: 'RUNNING' }),
    );
    expect(listed.taskArns).toEqual([mine]);
    const described = await ecs.send(new DescribeTasksCommand({ cluster: 'jobs', tasks: [mine] }));
    expect(described.tasks![0]!.startedBy).toBe('lease-1');
    expect(described.tasks![0]!.desiredStatus).toBe('RUNNING');

    const stopped = await ecs.send(
      new StopTaskCommand({ cluster: 'jobs', task: mine, reason: 'lease ended' }),
    );
    expect(stopped.task?.desiredStatus).toBe('STOPPED');
    const running = await ecs.send(
      new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1', desiredStatus: 'RUNNING' }),
    );
    expect(running.taskArns).toEqual([]);
    const defaultFilter = await ecs.send(new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1' }));
    expect(defaultFilter.taskArns).toEqual([]); // ListTasks defaults to desiredStatus RUNNING
    const stoppedList = await ecs.send(
      new ListTasksCommand({ cluster: 'jobs', startedBy: 'lease-1', desiredStatus: 'STOPPED' }),
    );
    expect(stoppedList.taskArns).toEqual([mine]);
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
