import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients } from './support/aws.ts';

const emu = useEmulator();
const spec = { groupName: 'asg-a', hookName: 'attach-eni', instanceId: 'i-0aaaabbbbccccdddd' };

describe('Auto Scaling lifecycle actions', () => {
  it('records a CompleteLifecycleAction by token and ends the action', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin(spec);
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    const out = await autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: spec.groupName,
        LifecycleHookName: spec.hookName,
        LifecycleActionToken: token,
        LifecycleActionResult: 'CONTINUE',
      }),
    );
    expect(out.$metadata.httpStatusCode).toBe(200);
    const completions = await emu().lifecycle.completions();
    expect(completions).toHaveLength(1);
    expect(completions[0]).toMatchObject({ ...spec, token, result: 'CONTINUE' });
    expect(Number.isNaN(Date.parse(completions[0]!.at))).toBe(false);
  });

  it('fails a second completion of the same token with ValidationError "No active Lifecycle Action found"', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin({ ...spec, token: '87654321-4321-4321-4321-210987654321' });
    const complete = () =>
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
          LifecycleActionResult: 'ABANDON',
        }),
      );
    await complete();
    const error = await awsError(complete(), 'ValidationError', 400);
    expect(error.message).toBe(`No active Lifecycle Action found with token ${token}`);
    expect(await emu().lifecycle.completions()).toHaveLength(1);
  });

  it('fails completing an unknown token and one registered for another group', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin(spec);
    await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: 'other-asg',
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
      'ValidationError',
    );
    const error = await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: '00000000-0000-0000-0000-000000000000',
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
      'ValidationError',
    );
    expect(error.message).toContain('No active Lifecycle Action found with token 00000000-');
    expect(await emu().lifecycle.completions()).toEqual([]);
  });

  it('completes by InstanceId when no token is given, and a repeat fails with the instance ID message', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin({
      ...spec,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    });
    const complete = () =>
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          InstanceId: spec.instanceId,
          LifecycleActionResult: 'CONTINUE',
        }),
      );
    await complete();
    expect(await emu().lifecycle.completions()).toMatchObject([{ token, instanceId: spec.instanceId }]);
    const error = await awsError(complete(), 'ValidationError');
    expect(error.message).toBe(`No active Lifecycle Action found with instance ID ${spec.instanceId}`);
  });

  it('rejects a LifecycleActionResult other than CONTINUE or ABANDON and keeps the action active', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin(spec);
    await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
          LifecycleActionResult: 'MAYBE',
        }),
      ),
      'ValidationError',
    );
    await autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: spec.groupName,
        LifecycleHookName: spec.hookName,
        LifecycleActionToken: token,
        LifecycleActionResult: 'CONTINUE',
      }),
    );
    expect(await emu().lifecycle.completions()).toHaveLength(1);
  });

  it('records heartbeats for an active action and fails a heartbeat after completion', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin(spec);
    const beat = () =>
      autoscaling.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
        }),
      );
    await beat();
    await autoscaling.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: spec.groupName,
        LifecycleHookName: spec.hookName,
        InstanceId: spec.instanceId,
      }),
    );
    const heartbeats = await emu().lifecycle.heartbeats();
    expect(heartbeats).toHaveLength(2);
    expect(heartbeats[0]).toMatchObject({ ...spec, token });
    await autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: spec.groupName,
        LifecycleHookName: spec.hookName,
        LifecycleActionToken: token,
        LifecycleActionResult: 'CONTINUE',
      }),
    );
    const error = await awsError(beat(), 'ValidationError', 400);
    expect(error.message).toBe(`No active Lifecycle Action found with token ${token}`);
    expect(await emu().lifecycle.heartbeats()).toHaveLength(2);
  });

  it('forgets lifecycle actions and records on reset', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin(spec);
    await emu().reset();
    await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
      'ValidationError',
    );
    expect(await emu().lifecycle.completions()).toEqual([]);
  });

  // Auto Scaling API reference, LifecycleHook.HeartbeatTimeout: "If the lifecycle hook times out,
  // Amazon EC2 Auto Scaling performs the action that you specified in the DefaultResult property";
  // RecordLifecycleActionHeartbeat "extends the timeout by the length of time defined using the
  // PutLifecycleHook API call".
  it('ends an action with its DefaultResult when no heartbeat arrives within the heartbeat timeout', async () => {
    const { autoscaling } = clients(emu());
    const token = await emu().lifecycle.begin({ ...spec, heartbeatTimeoutMs: 4_000 });
    const heartbeat = () =>
      autoscaling.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
        }),
      );
    // A heartbeat restarts the timer: the action is still live right after one.
    await heartbeat();
    expect(await emu().lifecycle.completions()).toEqual([]);
    // Bounded poll until the timeout has passed (no timing assertion: a loaded machine only makes it later).
    let completions = await emu().lifecycle.completions();
    for (let i = 0; i < 300 && completions.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      completions = await emu().lifecycle.completions();
    }
    expect(completions).toEqual([
      expect.objectContaining({ ...spec, token, result: 'ABANDON', timedOut: true }),
    ]);
    const error = await awsError(heartbeat(), 'ValidationError', 400);
    expect(error.message).toBe(`No active Lifecycle Action found with token ${token}`);
    await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: spec.groupName,
          LifecycleHookName: spec.hookName,
          LifecycleActionToken: token,
          LifecycleActionResult: 'CONTINUE',
        }),
      ),
      'ValidationError',
      400,
    );
    expect(await emu().lifecycle.completions()).toHaveLength(1);
  });

  it('applies DefaultResult CONTINUE when the hook says so, and never times out an action begun without a timeout', async () => {
    const { autoscaling } = clients(emu());
    const timed = await emu().lifecycle.begin({
      ...spec,
      instanceId: 'i-0bbbbccccddddeeee',
      heartbeatTimeoutMs: 200,
      defaultResult: 'CONTINUE',
    });
    const untimed = await emu().lifecycle.begin(spec);
    let completions = await emu().lifecycle.completions();
    for (let i = 0; i < 300 && completions.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      completions = await emu().lifecycle.completions();
    }
    expect(completions).toEqual([
      expect.objectContaining({ token: timed, result: 'CONTINUE', timedOut: true }),
    ]);
    await autoscaling.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: spec.groupName,
        LifecycleHookName: spec.hookName,
        LifecycleActionToken: untimed,
      }),
    );
  });
});
