import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { lifecycleEvent, loadEvent, manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { InvalidEventError } from '../../src/errors.ts';
import {
  acceptLifecycleEvent,
  completeLifecycleAction,
  HeartbeatKeeper,
  isEnteringGroup,
  isLeavingGroup,
  isNoActiveLifecycleAction,
  isRejected,
  LifecycleActionEndedError,
  parseLifecycleEvent,
} from '../../src/lifecycle.ts';
import { lifecycleScopeOf, lifecycleScopeSpec } from '../../src/lifecycle-scope.ts';

const asg = mockClient(AutoScalingClient);
const noActive = (token: string) =>
  new AutoScalingServiceException({
    name: 'ValidationError',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: `No active Lifecycle Action found with token ${token}`,
  });

beforeEach(() => asg.reset());

describe('parseLifecycleEvent', () => {
  it('parses a launch event with warm-pool fields', () => {
    const action = parseLifecycleEvent(loadEvent('autoscaling/launch'));
    expect(action).toEqual({
      kind: 'launch',
      instanceId: 'i-1234567890abcdef0',
      groupName: 'my-asg',
      hookName: 'my-lifecycle-hook',
      token: '87654321-4321-4321-4321-210987654321',
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      origin: 'EC2',
      destination: 'AutoScalingGroup',
      notificationMetadata: 'additional-info',
      eventId: '12345678-1234-1234-1234-123456789012',
      region: 'us-east-1',
      account: '123456789012',
      time: '2026-11-21T10:00:00Z',
    });
  });

  it('parses a terminate event', () => {
    const action = parseLifecycleEvent(loadEvent('autoscaling/terminate'));
    expect(action.kind).toBe('terminate');
    expect(action.transition).toBe('autoscaling:EC2_INSTANCE_TERMINATING');
  });

  it('rejects a kind the caller does not accept', () => {
    expect(() => parseLifecycleEvent(loadEvent('autoscaling/terminate'), ['launch'])).toThrow(
      /Unexpected detail-type "EC2 Instance-terminate Lifecycle Action"; expected "EC2 Instance-launch Lifecycle Action"/,
    );
  });

  const mutate = (fn: (e: ReturnType<typeof loadEvent>) => void) => {
    const e = loadEvent('autoscaling/launch');
    fn(e);
    return e;
  };

  it.each([
    ['a non-object', 'x', undefined, /must be a JSON object/],
    ['another source', mutate((e) => (e.source = 'aws.ec2')), 'source', /Unexpected event source "aws.ec2"/],
    [
      'another detail-type',
      mutate((e) => (e['detail-type'] = 'EC2 Instance Launch Successful')),
      'detail-type',
      /Unexpected detail-type/,
    ],
    ['no detail', mutate((e) => delete e.detail), 'detail', /no detail object/],
    [
      'no instance id',
      mutate((e) => delete e.detail.EC2InstanceId),
      'detail.EC2InstanceId',
      /missing detail.EC2InstanceId/,
    ],
    [
      'a malformed instance id',
      mutate((e) => (e.detail.EC2InstanceId = 'i-xyz')),
      'detail.EC2InstanceId',
      /not an instance id/,
    ],
    [
      'no token',
      mutate((e) => delete e.detail.LifecycleActionToken),
      'detail.LifecycleActionToken',
      /missing detail.LifecycleActionToken/,
    ],
    [
      'a numeric token',
      mutate((e) => (e.detail.LifecycleActionToken = 5)),
      'detail.LifecycleActionToken',
      /must be a string/,
    ],
    [
      'no group',
      mutate((e) => delete e.detail.AutoScalingGroupName),
      'detail.AutoScalingGroupName',
      /missing/,
    ],
    ['no hook', mutate((e) => delete e.detail.LifecycleHookName), 'detail.LifecycleHookName', /missing/],
    [
      'a transition that contradicts the detail-type',
      mutate((e) => (e.detail.LifecycleTransition = 'autoscaling:EC2_INSTANCE_TERMINATING')),
      'detail.LifecycleTransition',
      /does not match detail-type/,
    ],
    [
      'an unknown destination',
      mutate((e) => (e.detail.Destination = 'Moon')),
      'detail.Destination',
      /not one of/,
    ],
  ])('rejects %s with a message naming the field', (_label, event, field, message) => {
    try {
      parseLifecycleEvent(event);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidEventError);
      expect((error as InvalidEventError).field).toBe(field);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('warm pool routing', () => {
  it('treats launches into the group, and legacy events, as entering service', () => {
    expect(isEnteringGroup(parseLifecycleEvent(loadEvent('autoscaling/launch')))).toBe(true);
    expect(isEnteringGroup(parseLifecycleEvent(loadEvent('autoscaling/launch-legacy')))).toBe(true);
    expect(isEnteringGroup(parseLifecycleEvent(loadEvent('autoscaling/launch-from-warm-pool')))).toBe(true);
  });

  it('does not treat a launch into the warm pool as entering service', () => {
    expect(isEnteringGroup(parseLifecycleEvent(loadEvent('autoscaling/launch-to-warm-pool')))).toBe(false);
  });

  it('treats a terminate from service as leaving, but not one from the warm pool', () => {
    expect(isLeavingGroup(parseLifecycleEvent(loadEvent('autoscaling/terminate')))).toBe(true);
    expect(isLeavingGroup(parseLifecycleEvent(lifecycleEvent('terminate', { origin: 'WarmPool' })))).toBe(
      false,
    );
  });
});

describe('completeLifecycleAction', () => {
  const action = parseLifecycleEvent(loadEvent('autoscaling/launch'));

  it('completes with the event token, group, hook and result', async () => {
    asg.on(CompleteLifecycleActionCommand).resolves({});
    await expect(
      completeLifecycleAction(asg as unknown as AutoScalingClient, action, 'CONTINUE'),
    ).resolves.toBe('completed');
    expect(asg).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-lifecycle-hook',
      LifecycleActionToken: action.token,
      InstanceId: action.instanceId,
      LifecycleActionResult: 'CONTINUE',
    });
  });

  it('treats "No active Lifecycle Action found" on redelivery as already done', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(noActive(action.token));
    const warn = vi.fn();
    await expect(
      completeLifecycleAction(asg as unknown as AutoScalingClient, action, 'ABANDON', {
        info: vi.fn(),
        warn,
      }),
    ).resolves.toBe('already-completed');
    expect(warn).toHaveBeenCalledOnce();
    // The log says what it is: not a success, possibly a hook timeout.
    expect(warn.mock.calls[0]![0]).toContain('hook timed out');
    expect(warn.mock.calls[0]![0]).not.toMatch(/treating as done/);
  });

  it('rethrows any other error', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(
      new AutoScalingServiceException({
        name: 'Throttling',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      }),
    );
    await expect(
      completeLifecycleAction(asg as unknown as AutoScalingClient, action, 'CONTINUE'),
    ).rejects.toThrow('Rate exceeded');
  });

  it('does not mistake another ValidationError for redelivery', () => {
    const other = new AutoScalingServiceException({
      name: 'ValidationError',
      $fault: 'client',
      $metadata: {},
      message: 'Group not found',
    });
    expect(isNoActiveLifecycleAction(other)).toBe(false);
    expect(isNoActiveLifecycleAction(noActive('t'))).toBe(true);
  });
});

describe('heartbeat keeper', () => {
  const action = parseLifecycleEvent(loadEvent('autoscaling/launch'));

  it('paced by waits, beats only when a wait comes due, and never on its own', async () => {
    // Prepare
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    const clock = manualClock();
    const keeper = new HeartbeatKeeper(asg as unknown as AutoScalingClient, action, {
      intervalMs: 10_000,
      clock,
    });

    // Act: no beat on its own; a wait at 6 s is not due, one at 12 s is, one at 15 s is not again
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const onItsOwn = asg.commandCalls(RecordLifecycleActionHeartbeatCommand).length;
    clock.advance(6_000);
    await keeper.beatIfDue();
    const at6 = keeper.beats;
    clock.advance(6_000);
    await keeper.beatIfDue();
    const at12 = keeper.beats;
    clock.advance(3_000);
    await keeper.beatIfDue();

    // Assess
    expect(onItsOwn).toBe(0);
    expect(clock.sleeps).toEqual([]);
    expect([at6, at12, keeper.beats]).toEqual([0, 1, 1]);
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
  });

  it('beatIfDue throws LifecycleActionEndedError once the action is over, and logs other failures only', async () => {
    // Prepare
    asg
      .on(RecordLifecycleActionHeartbeatCommand)
      .rejectsOnce(new Error('socket hang up'))
      .rejects(noActive(action.token));
    const clock = manualClock();
    const warn = vi.fn();
    const keeper = new HeartbeatKeeper(asg as unknown as AutoScalingClient, action, {
      intervalMs: 1_000,
      clock,
      logger: { warn, debug: vi.fn() },
    });

    // Act
    clock.advance(1_000);
    await keeper.beatIfDue();
    const endedAfterHangUp = keeper.ended;
    clock.advance(1_000);
    const second = keeper.beatIfDue();

    // Assess
    expect(endedAfterHangUp).toBe(false);
    await expect(second).rejects.toBeInstanceOf(LifecycleActionEndedError);
    await expect(keeper.beatIfDue()).rejects.toMatchObject({ cause: expect.anything() });
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(keeper.ended).toBe(true);
  });

  it('LifecycleActionEndedError names the instance and hook and says why it is final', () => {
    const error = new LifecycleActionEndedError(action);
    expect(error.name).toBe('LifecycleActionEndedError');
    expect(error.instanceId).toBe(action.instanceId);
    expect(error.message).toContain(action.instanceId);
    expect(error.message).toContain('my-lifecycle-hook');
    expect(error.message).toMatch(/timed out/);
  });

  it('returns the action for a valid event', () => {
    const error = vi.fn();
    const result = acceptLifecycleEvent(loadEvent('autoscaling/launch'), { error }, { groupName: 'my-asg' });
    expect(isRejected(result)).toBe(false);
    expect(error).not.toHaveBeenCalled();
  });

  it('logs and returns a rejection for an invalid event instead of throwing', () => {
    const error = vi.fn();
    const event = loadEvent('autoscaling/launch');
    delete event.detail.LifecycleActionToken;
    const result = acceptLifecycleEvent(event, { error }, { groupName: 'my-asg' });
    expect(result).toEqual({
      status: 'rejected',
      reason: 'Lifecycle event is missing detail.LifecycleActionToken',
    });
    expect(error).toHaveBeenCalledWith('Rejected lifecycle event; no AWS call was made', {
      reason: 'Lifecycle event is missing detail.LifecycleActionToken',
      field: 'detail.LifecycleActionToken',
    });
  });
});

describe('acceptLifecycleEvent scope', () => {
  const scope = lifecycleScopeOf(
    parseConfig(lifecycleScopeSpec, {
      AUTO_SCALING_GROUP_NAME: 'my-asg',
      LIFECYCLE_HOOK_NAMES: 'my-lifecycle-hook, release-hook',
    }),
  );

  it('accepts an event of the configured group and one of the configured hooks', () => {
    expect(scope).toEqual({ groupName: 'my-asg', hookNames: ['my-lifecycle-hook', 'release-hook'] });
    const result = acceptLifecycleEvent(loadEvent('autoscaling/launch'), { error: vi.fn() }, scope);
    expect(isRejected(result)).toBe(false);
  });

  it('rejects an event of another group, naming both groups', () => {
    const error = vi.fn();
    const result = acceptLifecycleEvent(
      lifecycleEvent('launch', { groupName: 'other-asg' }),
      { error },
      scope,
    );
    expect(result).toEqual({
      status: 'rejected',
      reason:
        'Lifecycle event is for Auto Scaling group "other-asg", not the configured AUTO_SCALING_GROUP_NAME "my-asg"',
    });
    expect(error).toHaveBeenCalledWith('Rejected lifecycle event; no AWS call was made', {
      reason: expect.stringContaining('other-asg'),
      field: 'detail.AutoScalingGroupName',
    });
  });

  it('rejects an event of another hook when LIFECYCLE_HOOK_NAMES is set, any hook when unset', () => {
    const event = lifecycleEvent('launch', { hookName: 'someone-elses-hook' });
    const result = acceptLifecycleEvent(event, { error: vi.fn() }, scope);
    expect(isRejected(result) && result.reason).toBe(
      'Lifecycle event is for hook "someone-elses-hook", not one of the configured LIFECYCLE_HOOK_NAMES "my-lifecycle-hook,release-hook"',
    );
    expect(isRejected(acceptLifecycleEvent(event, { error: vi.fn() }, { groupName: 'my-asg' }))).toBe(false);
  });

  it.each([
    ['AUTO_SCALING_GROUP_NAME unset', {}, 'AUTO_SCALING_GROUP_NAME=(unset)'],
    ['a group name with a newline', { AUTO_SCALING_GROUP_NAME: 'a\nb' }, 'AUTO_SCALING_GROUP_NAME="a\\nb"'],
    ['a 256-character group name', { AUTO_SCALING_GROUP_NAME: 'g'.repeat(256) }, '(256 characters)'],
    [
      'a hook name with a space',
      { AUTO_SCALING_GROUP_NAME: 'my-asg', LIFECYCLE_HOOK_NAMES: 'ok,not ok' },
      'LIFECYCLE_HOOK_NAMES="ok,not ok"',
    ],
  ])('refuses a configuration with %s', (_, env, message) => {
    expect(() => parseConfig(lifecycleScopeSpec, env)).toThrow(message);
  });
});

describe('parseLifecycleEvent bounds', () => {
  const withDetail = (patch: Record<string, unknown>) => {
    const event = loadEvent('autoscaling/launch');
    Object.assign(event.detail, patch);
    return event;
  };

  it.each([
    ['a token that is not a UUID', { LifecycleActionToken: 'not-a-token' }, 'detail.LifecycleActionToken'],
    [
      'a token with control characters',
      { LifecycleActionToken: `${'\u0007'.repeat(2048)}` },
      'detail.LifecycleActionToken',
    ],
    ['a 1 MB group name', { AutoScalingGroupName: 'g'.repeat(1 << 20) }, 'detail.AutoScalingGroupName'],
    ['a group name with a NUL', { AutoScalingGroupName: 'my\u0000asg' }, 'detail.AutoScalingGroupName'],
    ['a hook name with a space', { LifecycleHookName: 'my hook' }, 'detail.LifecycleHookName'],
    ['a 256-character hook name', { LifecycleHookName: 'h'.repeat(256) }, 'detail.LifecycleHookName'],
    ['a 1 MB instance id', { EC2InstanceId: `i-${'0'.repeat(1 << 20)}` }, 'detail.EC2InstanceId'],
    [
      '1024 characters of metadata',
      { NotificationMetadata: 'm'.repeat(1024) },
      'detail.NotificationMetadata',
    ],
    ['an array group name', { AutoScalingGroupName: ['my-asg'] }, 'detail.AutoScalingGroupName'],
  ])('rejects %s with a bounded reason naming the field', (_, patch, field) => {
    let caught: unknown;
    try {
      parseLifecycleEvent(withDetail(patch));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect((caught as InvalidEventError).field).toBe(field);
    expect((caught as InvalidEventError).message).toContain(field);
    expect((caught as InvalidEventError).message.length).toBeLessThan(300);
  });

  it('says how long a truncated value was', () => {
    expect(() => parseLifecycleEvent(withDetail({ EC2InstanceId: `i-${'0'.repeat(1 << 20)}` }))).toThrow(
      `(${(1 << 20) + 2} characters)`,
    );
  });

  it('rejects malformed envelope fields (the time is written into tags by eni-attach)', () => {
    const event = loadEvent('autoscaling/launch');
    event.time = 'x'.repeat(10_000);
    expect(() => parseLifecycleEvent(event)).toThrow(
      /^Lifecycle event time "x{80}"\.\.\. \(10000 characters\) is not an RFC 3339 time$/,
    );
  });
});
