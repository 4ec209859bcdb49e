import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateSubnetCommand,
  DescribeTagsCommand,
  DescribeVpcEndpointsCommand,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';
import { DescribeTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { type Clock, systemClock } from '@netkit/aws-core/retry';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { describe, expect, it } from 'vitest';
import type { AcquireResult } from '../../src/acquire.ts';
import { type Config, loadAcquireConfig } from '../../src/config.ts';
import { createAcquireHandler } from '../../src/create-acquire-handler.ts';
import { createReaperHandler } from '../../src/create-reaper-handler.ts';
import { startedByFor } from '../../src/lease.ts';
import { countActiveTasks } from '../../src/reap-idle-endpoints.ts';
import { describeStack } from '../../src/stack.ts';
import { buildWorld, depsFor, type World } from '../support/world.ts';

const emu = useEmulator();
const MIN = 60_000;

/** Real time shifted by `offsetMs`: lets the reaper run "later in the billed hour". */
function shifted(offsetMs: number): Clock {
  return { now: () => Date.now() + offsetMs, sleep: systemClock.sleep };
}

function ctx(id: string) {
  return { ...fakeContext(120_000), awsRequestId: id };
}

async function acquireOnce(world: World, id: string, config: Config = world.config) {
  const handler = createAcquireHandler(depsFor(world, systemClock), config);
  return (await handler({}, ctx(id))) as AcquireResult;
}

async function reapAt(world: World, offsetMs: number, config: Config = world.config) {
  return createReaperHandler(depsFor(world, shifted(offsetMs), 'reaper'), config)(
    {},
    ctx(`reaper-${offsetMs}`),
  );
}

async function stopAll(world: World, taskArns: string[]) {
  for (const task of taskArns) {
    await world.clients.ecs.send(
      new StopTaskCommand({ cluster: world.config.clusterArn, task, reason: 'done' }),
    );
  }
}

async function stackExists(world: World) {
  return (await describeStack(world.clients.cfn, world.config.stackName)) !== undefined;
}

async function endpointStates(world: World) {
  const out = await world.clients.ec2.send(
    new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [world.config.vpcId] }] }),
  );
  return (out.VpcEndpoints ?? []).map((e) => String(e.State).toLowerCase());
}

describe('acquire', () => {
  it('creates one endpoint stack for two concurrent acquires and runs both tasks', async () => {
    // Prepare
    const world = await buildWorld(emu());
    await emu().resetCalls();
    // Act
    const [a, b] = await Promise.all([acquireOnce(world, 'req-a'), acquireOnce(world, 'req-b')]);
    // Assess
    const calls = await emu().calls();
    const stacks = await world.clients.cfn.send(new DescribeStacksCommand({}));
    expect(stacks.Stacks?.filter((s) => s.StackName === world.config.stackName)).toHaveLength(1);
    expect(a?.stackId).toBe(b?.stackId);
    expect([a?.created, b?.created].filter(Boolean)).toHaveLength(1);
    expect(calls['cloudformation:CreateStack']).toBeLessThanOrEqual(2);
    const tasks = await world.clients.ecs.send(
      new DescribeTasksCommand({ cluster: world.config.clusterArn, tasks: [...a.taskArns, ...b.taskArns] }),
    );
    expect(tasks.tasks).toHaveLength(2);
    for (const task of tasks.tasks ?? []) {
      expect(task.startedBy).toBe(startedByFor(world.config.stackName));
      expect(task.launchType).toBe('FARGATE');
    }
    // 3 interface endpoints (logs, ecr.api, ecr.dkr), all available before any task started; the
    // S3 gateway endpoint belongs to the permanent template and is not in the leased stack.
    expect(await endpointStates(world)).toEqual(['available', 'available', 'available']);
    expect(await countActiveTasks(world.clients.ecs, world.config)).toBe(2);
  });

  it('records the lease on the VPC before creating the stack', async () => {
    const world = await buildWorld(emu());
    const result = await acquireOnce(world, 'req-lease');
    const tags = await world.clients.ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [world.config.vpcId] }] }),
    );
    const lease = tags.Tags?.find((t) => t.Key === `netkit:endpoint-lease:${world.config.stackName}`);
    expect(lease?.Value).toBe(result.leaseUntil);
    expect(Date.parse(result.leaseUntil) - Date.now()).toBeGreaterThan(4 * MIN);
  });

  it('rejects an invalid event without any AWS call', async () => {
    const world = await buildWorld(emu());
    await emu().resetCalls();
    const handler = createAcquireHandler(depsFor(world, systemClock), world.config);
    const out = await handler({ count: 11 }, ctx('bad'));
    expect(out).toMatchObject({ status: 'rejected' });
    expect(await emu().calls()).toEqual({});
  });
});

/** Calls that change something (anything but Describe/List/Get). */
async function mutatingCalls() {
  return Object.entries(await emu().calls()).filter(([key]) => !/:(Describe|List|Get)/.test(key));
}

describe('acquire pre-checks (read-only, before any write)', () => {
  it('rejects, naming enableDnsHostnames, a VPC without DNS hostnames: no lease, no stack', async () => {
    const world = await buildWorld(emu());
    await world.clients.ec2.send(
      new ModifyVpcAttributeCommand({ VpcId: world.config.vpcId, EnableDnsHostnames: { Value: false } }),
    );
    await emu().resetCalls();
    const handler = createAcquireHandler(depsFor(world, systemClock), world.config);
    const out = await handler({}, ctx('no-dns'));
    expect(out).toMatchObject({ status: 'rejected' });
    expect((out as { reason: string }).reason).toContain('enableDnsHostnames=false');
    expect(await mutatingCalls()).toEqual([]);
    expect(await stackExists(world)).toBe(false);
  });

  it('rejects endpoint subnets that share an Availability Zone: no lease, no stack', async () => {
    const world = await buildWorld(emu());
    const extra = await world.clients.ec2.send(
      new CreateSubnetCommand({
        VpcId: world.config.vpcId,
        CidrBlock: '10.20.9.0/24',
        AvailabilityZone: `${emu().region}a`,
      }),
    );
    const config = loadAcquireConfig({
      ...world.env,
      ENDPOINT_SUBNET_IDS: `${world.config.subnetIds[0]},${extra.Subnet!.SubnetId}`,
    });
    await emu().resetCalls();
    const out = await createAcquireHandler(depsFor(world, systemClock), config)({}, ctx('same-az'));
    expect((out as { reason: string }).reason).toMatch(/both in us-east-1a/);
    expect(await mutatingCalls()).toEqual([]);
  });
});

describe('reaper and a stack that fails to delete', () => {
  it('deletes again DELETE_ATTEMPTS times, then deletes the stack retaining the stuck endpoint', async () => {
    const world = await buildWorld(emu());
    const r = await acquireOnce(world, 'req-1');
    await stopAll(world, r.taskArns);
    await emu().cloudformation.deleteFailure({ logicalId: 'LogsEndpoint', times: 100 });
    const runs = [];
    for (let i = 0; i < world.config.deleteAttempts + 1; i++) runs.push(await reapAt(world, 55 * MIN));
    expect(runs[0]).toMatchObject({ action: 'deleted', reason: 'idle-hour-ending' });
    for (const run of runs.slice(1, -1)) {
      expect(run).toMatchObject({ action: 'deleted', reason: 'failed', stackStatus: 'DELETE_FAILED' });
      expect(run.retained).toBeUndefined();
    }
    expect(runs.at(-1)).toMatchObject({ action: 'deleted', reason: 'failed' });
    expect(runs.at(-1)?.retained?.sort()).toEqual(['EndpointSecurityGroup', 'LogsEndpoint']);
    expect(await stackExists(world)).toBe(false);
    // The retained endpoint is outside any stack now (the log line and the metric say so).
    expect((await endpointStates(world)).filter((s) => s !== 'deleted')).toEqual(['available']);
    expect(await reapAt(world, 55 * MIN)).toMatchObject({ action: 'none' });
  }, 120_000);
});

describe('reaper', () => {
  it('keeps the stack while a task of the package is running, even at the end of the hour', async () => {
    const world = await buildWorld(emu());
    await acquireOnce(world, 'req-1');
    const out = await reapAt(world, 56 * MIN);
    expect(out).toMatchObject({ action: 'keep', reason: 'tasks' });
    expect(await stackExists(world)).toBe(true);
  });

  it('keeps the stack while a lease is active although no task runs', async () => {
    const world = await buildWorld(emu(), { DELETE_POLICY: 'immediate' });
    const r = await acquireOnce(world, 'req-1');
    await stopAll(world, r.taskArns);
    const out = await reapAt(world, 1 * MIN);
    expect(out).toMatchObject({ action: 'keep', reason: 'lease', activeTasks: 0 });
    expect(await stackExists(world)).toBe(true);
  });

  it('keeps an idle stack while its billed hour has time left (hour-aligned)', async () => {
    const world = await buildWorld(emu());
    const r = await acquireOnce(world, 'req-1');
    await stopAll(world, r.taskArns);
    const out = await reapAt(world, 20 * MIN);
    expect(out).toMatchObject({ action: 'keep', reason: 'hour-paid' });
    expect(await stackExists(world)).toBe(true);
  });

  it('deletes an idle stack within the guard before its billed hour ends, endpoints included', async () => {
    const world = await buildWorld(emu());
    const r = await acquireOnce(world, 'req-1');
    await stopAll(world, r.taskArns);
    const out = await reapAt(world, 55 * MIN);
    expect(out).toMatchObject({ action: 'deleted', reason: 'idle-hour-ending' });
    expect(await stackExists(world)).toBe(false);
    expect(await endpointStates(world)).not.toContain('available');
    const tags = await world.clients.ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['netkit:endpoint-reap:*'] }] }),
    );
    expect(tags.Tags ?? []).toEqual([]);
  });

  it('does nothing when there is no stack', async () => {
    const world = await buildWorld(emu());
    expect(await reapAt(world, 0)).toMatchObject({ action: 'none' });
  });
});

describe('acquire after a delete', () => {
  it('recreates the stack the reaper deleted and runs the task', async () => {
    const world = await buildWorld(emu());
    const first = await acquireOnce(world, 'req-1');
    await stopAll(world, first.taskArns);
    expect(await reapAt(world, 58 * MIN)).toMatchObject({ action: 'deleted' });
    const second = await acquireOnce(world, 'req-2');
    expect(second.created).toBe(true);
    expect(second.stackId).not.toBe(first.stackId);
    expect(await stackExists(world)).toBe(true);
    expect(await countActiveTasks(world.clients.ecs, world.config)).toBe(1);
  });
});

describe('acquire and reaper running concurrently', () => {
  it('never leaves a started task without its stack, across many interleavings (immediate policy)', async () => {
    const world = await buildWorld(emu(), { DELETE_POLICY: 'immediate', LEASE_SECONDS: '60' });
    // The lease is as short as allowed and the policy deletes as soon as idle: the reaper tries
    // to delete at every chance; only the lease protocol keeps the stack for the acquire.
    const rounds = 4;
    let deletes = 0;
    for (let i = 0; i < rounds; i++) {
      const acquire = acquireOnce(world, `req-${i}`);
      const reapers = [reapAt(world, 0), reapAt(world, 0)];
      const [result, ...reaped] = await Promise.all([acquire, ...reapers.map((p) => p.catch((e) => e))]);
      deletes += reaped.filter((r) => (r as { action?: string }).action === 'deleted').length;
      // Assess: the stack the task started with still exists and is complete.
      const stack = await describeStack(world.clients.cfn, world.config.stackName);
      expect(stack?.stackId).toBe(result.stackId);
      expect(stack?.status).toBe('CREATE_COMPLETE');
      await stopAll(world, result.taskArns);
      // Idle now, lease expired from the reaper's point of view (2 minutes later): it deletes.
      expect(await reapAt(world, 2 * MIN)).toMatchObject({ action: 'deleted' });
    }
    expect(deletes).toBe(0);
  }, 240_000);
});
