import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { fakeContext, lifecycleEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LifecycleActionEndedError } from '../../src/errors.ts';
import {
  createLifecycleHandler,
  type HookRun,
  hookDeadlines,
  type LifecycleHook,
} from '../../src/lifecycle-hook.ts';
import { silentLogger } from '../../src/observability.ts';

const asg = mockClient(AutoScalingClient);
const noActive = new AutoScalingServiceException({
  name: 'ValidationError',
  $fault: 'client',
  $metadata: { httpStatusCode: 400 },
  message: 'No active Lifecycle Action found with token x',
});
const throttled = new AutoScalingServiceException({
  name: 'Throttling',
  $fault: 'client',
  $metadata: { httpStatusCode: 400 },
  message: 'Rate exceeded',
});

type Report = { status: 'done' | 'abandoned'; instanceId: string; result: 'CONTINUE' | 'ABANDON' };

function setUp(verbs: Partial<LifecycleHook<Report>> = {}) {
  const clock = manualClock();
  const metrics = { addMetric: vi.fn(), addDimension: vi.fn(), publishStoredMetrics: vi.fn() };
  const launch = vi.fn(
    async (run: HookRun): Promise<Report> => ({
      status: 'done',
      instanceId: run.action.instanceId,
      result: 'CONTINUE',
    }),
  );
  const hook: LifecycleHook<Report> = {
    scope: { groupName: 'my-asg' },
    deadlines: (context, c) => hookDeadlines(context, c, 5_000),
    heartbeatIntervalMs: 30_000,
    warmPool: 'skip',
    launch,
    ...verbs,
  };
  const logger = silentLogger;
  const handler = createLifecycleHandler(
    { autoscaling: new AutoScalingClient({}), logger, clock, metrics },
    hook,
  );
  const counted = () => metrics.addMetric.mock.calls.map((c) => c[0]);
  return { handler, launch, metrics, counted, context: fakeContext(60_000, clock.now), clock };
}

beforeEach(() => {
  asg.reset();
  asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
  asg.on(CompleteLifecycleActionCommand).resolves({});
});

describe('createLifecycleHandler', () => {
  it('rejects an event for another group with no AWS call and no metric', async () => {
    const { handler, launch, metrics, context } = setUp();
    const out = await handler(lifecycleEvent('launch', { groupName: 'other' }), context);
    expect(out.status).toBe('rejected');
    expect(launch).not.toHaveBeenCalled();
    expect(asg.calls()).toHaveLength(0);
    expect(metrics.publishStoredMetrics).not.toHaveBeenCalled();
  });

  it('checks liveness once, runs the verb, completes its result and counts it', async () => {
    const { handler, counted, metrics, context } = setUp();
    const out = await handler(lifecycleEvent('launch'), context);
    expect(out).toMatchObject({ status: 'done', result: 'CONTINUE', completion: 'completed' });
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    const [complete] = asg.commandCalls(CompleteLifecycleActionCommand);
    expect(complete?.args[0].input.LifecycleActionResult).toBe('CONTINUE');
    expect(counted()).toEqual(['LaunchesContinued']);
    expect(metrics.addDimension).toHaveBeenCalledWith('AutoScalingGroupName', 'my-asg');
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });

  it('returns ended without running the verb when the action is not live', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).rejects(noActive);
    const { handler, launch, counted, context } = setUp();
    const out = await handler(lifecycleEvent('launch'), context);
    expect(out.status).toBe('ended');
    expect(launch).not.toHaveBeenCalled();
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(counted()).toEqual(['LifecycleActionEnded']);
  });

  it('retries server faults on the liveness heartbeat, and lets AccessDenied through without the verb', async () => {
    const fault = new AutoScalingServiceException({
      name: 'InternalFailure',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
      message: 'internal',
    });
    asg.on(RecordLifecycleActionHeartbeatCommand).rejectsOnce(fault).rejectsOnce(fault).resolves({});
    const first = setUp();
    expect((await first.handler(lifecycleEvent('launch'), first.context)).status).toBe('done');
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(3);

    asg.reset();
    const denied = new AutoScalingServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: 'denied',
    });
    asg.on(RecordLifecycleActionHeartbeatCommand).rejects(denied);
    const second = setUp();
    await expect(second.handler(lifecycleEvent('launch'), second.context)).rejects.toThrow('denied');
    expect(second.launch).not.toHaveBeenCalled();
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
  });

  it('completes a warm-pool launch CONTINUE without the verb when the hook skips them', async () => {
    const { handler, launch, context } = setUp();
    const out = await handler(lifecycleEvent('launch', { destination: 'WarmPool' }), context);
    expect(out).toMatchObject({ status: 'skipped', reason: 'launching into WarmPool' });
    expect(launch).not.toHaveBeenCalled();
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  it('runs the verb for a warm-pool launch when the hook runs them', async () => {
    const { handler, launch, context } = setUp({ warmPool: 'run' });
    await handler(lifecycleEvent('launch', { destination: 'WarmPool' }), context);
    expect(launch).toHaveBeenCalledTimes(1);
  });

  it('completes a terminate CONTINUE without liveness check when the hook has no terminate verb', async () => {
    const { handler, context } = setUp();
    const out = await handler(lifecycleEvent('terminate'), context);
    expect(out.status).toBe('skipped');
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(0);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  it('does not complete again when the verb completed itself, and counts an action that ended first', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(noActive);
    const { handler, counted, context } = setUp({
      launch: async (run) => {
        await run.complete('ABANDON');
        return { status: 'abandoned', instanceId: run.action.instanceId, result: 'ABANDON' };
      },
    });
    const out = await handler(lifecycleEvent('launch'), context);
    expect(out).toMatchObject({ status: 'abandoned', completion: 'already-completed' });
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    expect(counted()).toEqual(['LaunchesAbandoned', 'LifecycleActionEnded']);
  });

  it('turns LifecycleActionEndedError from the verb into ended, completing nothing', async () => {
    const { handler, counted, context } = setUp({
      launch: async (run) => {
        throw new LifecycleActionEndedError(run.action);
      },
    });
    const out = await handler(lifecycleEvent('launch'), context);
    expect(out.status).toBe('ended');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(counted()).toEqual(['LifecycleActionEnded']);
  });

  it("retries a verb's call on throttling and heartbeats in its waits once the interval passed", async () => {
    let throttles = 3;
    const { handler, context } = setUp({
      heartbeatIntervalMs: 1,
      launch: async (run) => {
        await run.call('Op', async () => {
          if (throttles-- > 0) throw throttled;
        });
        return { status: 'done', instanceId: run.action.instanceId, result: 'CONTINUE' };
      },
    });
    const out = await handler(lifecycleEvent('launch'), context);
    expect(out.status).toBe('done');
    expect(throttles).toBe(-1);
    // The liveness check, then a beat in each wait that starts after the interval: the 2nd and 3rd.
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(3);
  });

  it('lets other verb errors through (Lambda retries) and still publishes what was recorded', async () => {
    const { handler, metrics, context } = setUp({
      launch: async (run) => {
        run.count('Partial');
        throw new Error('boom');
      },
    });
    await expect(handler(lifecycleEvent('launch'), context)).rejects.toThrow('boom');
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });
});
