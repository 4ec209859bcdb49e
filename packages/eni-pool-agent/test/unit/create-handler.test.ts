import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DetachNetworkInterfaceCommand,
} from '@aws-sdk/client-ec2';
import { ConfigError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { fakeContext, lifecycleEvent, loadEvent, manualClock } from '@netkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler, type HandlerDeps } from '../../src/create-handler.ts';
import { awsError, FakeEc2, POOL_TAGS, seedPool } from '../support/fake-ec2.ts';

const AZ = 'us-east-1a';
const config = loadConfig({
  ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
  AUTO_SCALING_GROUP_NAME: 'my-asg',
  ATTACH_TIMEOUT_SECONDS: '30',
});

let fake: FakeEc2;
let clock: ReturnType<typeof manualClock>;
interface RecordingMetrics {
  added: [string, number][];
  published: number;
  addMetric(name: string, unit: unknown, value: number): never;
  addDimension(name: string, value: string): never;
  publishStoredMetrics(): never;
}
let metrics: RecordingMetrics;

function handler(overrides: Partial<typeof config> = {}) {
  return createHandler(
    {
      ec2: fake.client,
      autoscaling: fake.autoscalingClient,
      logger: silentLogger,
      clock,
      metrics: metrics as unknown as HandlerDeps['metrics'],
      random: () => 0,
    },
    { ...config, ...overrides },
  );
}
const context = () => fakeContext(120_000, clock.now);

beforeEach(() => {
  fake = new FakeEc2();
  clock = manualClock();
  const added: [string, number][] = [];
  metrics = {
    added,
    published: 0,
    addMetric(name: string, _unit: unknown, value: number) {
      added.push([name, value]);
      return undefined as never;
    },
    addDimension() {
      return undefined as never;
    },
    publishStoredMetrics() {
      metrics.published++;
      return undefined as never;
    },
  };
});

describe('Lambda mode handler', () => {
  it('attaches a pool ENI, tags the instance with its hostname and completes CONTINUE', async () => {
    // Prepare
    seedPool(fake, AZ, '10.0.0', 'server-a', 3);
    const instanceId = fake.addInstance(AZ);
    const event = lifecycleEvent('launch', { instanceId });

    // Act
    const result = await handler()(event, context());

    // Assess
    expect(result).toMatchObject({
      status: 'done',
      action: 'attached',
      instanceId,
      privateIp: '10.0.0.4',
      hostname: 'server-a1',
      attempts: 1,
    });
    expect(fake.instanceTags.get(instanceId)).toEqual({ HostName: 'server-a1' });
    expect(fake.asMock).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-lifecycle-hook',
      LifecycleActionToken: event.detail.LifecycleActionToken,
      InstanceId: instanceId,
      LifecycleActionResult: 'CONTINUE',
    });
    expect(metrics.added).toEqual(
      expect.arrayContaining([
        ['PoolSize', 3],
        ['PoolFree', 2],
        ['PoolExhausted', 0],
        ['AttachAttempts', 1],
      ]),
    );
    expect(metrics.published).toBe(1);
  });

  it('changes nothing when the same launch event is delivered again', async () => {
    // Prepare
    seedPool(fake, AZ, '10.0.0', 'server-a', 3);
    const instanceId = fake.addInstance(AZ);
    const event = lifecycleEvent('launch', { instanceId });
    const first = await handler()(event, context());
    fake.ec2Mock.resetHistory();
    fake.asMock.resetHistory();

    // Act
    const again = await handler()(event, context());

    // Assess
    expect(again).toMatchObject({
      status: 'already-done',
      networkInterfaceId: (first as { networkInterfaceId: string }).networkInterfaceId,
      attempts: 0,
    });
    expect(fake.ec2Mock).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
    expect(fake.ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(fake.completions).toHaveLength(1); // the second completion met "No active Lifecycle Action"
  });

  it('reports a hook that timed out before the completion with a LifecycleActionEnded metric, and does not throw', async () => {
    // Prepare: the hook's heartbeat timeout passes between the attach and the completion
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    fake.asMock
      .on(CompleteLifecycleActionCommand)
      .rejects(awsError('ValidationError', 'No active Lifecycle Action found with token x'));

    // Act
    const result = await handler()(lifecycleEvent('launch', { instanceId }), context());

    // Assess: a normal return (no Lambda retry), the ENI stays with the instance, the metric says what happened
    expect(result).toMatchObject({ status: 'done', action: 'attached', instanceId });
    expect(metrics.added).toContainEqual(['LifecycleActionEnded', 1]);
  });

  it('emits LifecycleActionEnded and changes nothing for a launch whose action is already over', async () => {
    // Prepare
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    fake.asMock
      .on(RecordLifecycleActionHeartbeatCommand)
      .rejects(awsError('ValidationError', 'No active Lifecycle Action found with token x'));

    // Act
    const result = await handler()(lifecycleEvent('launch', { instanceId }), context());

    // Assess
    expect(result).toMatchObject({ status: 'ended', instanceId });
    expect(fake.ec2Mock).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
    expect(metrics.added).toEqual([['LifecycleActionEnded', 1]]);
  });

  it('writes the missing hostname tag when an earlier delivery stopped after the attach', async () => {
    // Prepare: the first invocation attached but failed tagging
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    const event = lifecycleEvent('launch', { instanceId });
    fake.ec2Mock.on(CreateTagsCommand).rejectsOnce(awsError('InternalError'));
    await expect(handler()(event, context())).rejects.toMatchObject({ name: 'InternalError' });
    expect(fake.completions).toHaveLength(0);
    const retried = new FakeEc2();
    for (const [id, eni] of fake.enis) retried.enis.set(id, eni);
    for (const [id, instance] of fake.instances) retried.instances.set(id, instance);
    fake = retried;

    // Act: Lambda's retry
    const result = await handler()(event, context());

    // Assess
    expect(result).toMatchObject({ status: 'already-done', hostname: 'server-a1' });
    expect(fake.instanceTags.get(instanceId)).toEqual({ HostName: 'server-a1' });
    expect(fake.completions.map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('abandons the launch when the pool stays empty past ATTACH_TIMEOUT_SECONDS', async () => {
    // Prepare: both ENIs of the AZ are taken
    const enis = seedPool(fake, AZ, '10.0.0', 'server-a', 2);
    for (const eni of enis) {
      const holder = fake.addInstance(AZ);
      eni.attachment = {
        id: `eni-attach-${holder}`,
        instanceId: holder,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: false,
      };
    }
    const instanceId = fake.addInstance(AZ);
    const start = clock.now();

    // Act
    const result = await handler()(lifecycleEvent('launch', { instanceId }), context());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', instanceId });
    expect((result as { reason: string }).reason).toMatch(/No available pool ENI in us-east-1a/);
    expect(fake.completions.map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
    expect(clock.now() - start).toBeLessThanOrEqual(30_000);
    expect(metrics.added).toEqual(
      expect.arrayContaining([
        ['PoolSize', 2],
        ['PoolFree', 0],
        ['PoolExhausted', 1],
        ['LaunchesAbandoned', 1],
      ]),
    );
    for (const eni of enis) expect(eni.attachment?.instanceId).not.toBe(instanceId);
  });

  it('completes ABANDON first and then detaches an attachment that never reached attached', async () => {
    // Prepare
    const [eni] = seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    fake.attachingDescribes = 1_000;

    // Act
    const result = await handler()(lifecycleEvent('launch', { instanceId }), context());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', instanceId });
    expect(fake.completions.map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(eni!.attachment).toBeUndefined();
    const [complete] = fake.asMock.commandCalls(CompleteLifecycleActionCommand);
    const [detach] = fake.ec2Mock.commandCalls(DetachNetworkInterfaceCommand);
    expect(complete!.calledBefore(detach!)).toBe(true);
  });

  it('keeps the attachment when its ABANDON meets an action a concurrent delivery already completed', async () => {
    // Prepare: the twin delivery saw the ENI held and completed CONTINUE
    const [eni] = seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    fake.attachingDescribes = 1_000;
    fake.asMock
      .on(CompleteLifecycleActionCommand)
      .rejects(awsError('ValidationError', 'No active Lifecycle Action found with token x'));

    // Act
    const result = await handler()(lifecycleEvent('launch', { instanceId }), context());

    // Assess
    expect(result).toMatchObject({ status: 'abandoned', instanceId });
    expect(eni!.attachment?.instanceId).toBe(instanceId);
    expect(fake.ec2Mock).not.toHaveReceivedCommand(DetachNetworkInterfaceCommand);
  });

  it('completes CONTINUE without an ENI for a launch into the warm pool', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    const event = loadEvent('autoscaling/launch-to-warm-pool');
    event.detail.EC2InstanceId = instanceId;

    const result = await handler()(event, context());

    expect(result).toMatchObject({ status: 'skipped' });
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
    expect(fake.completions.map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
  });

  it('rejects an invalid event without any AWS call', async () => {
    const event = lifecycleEvent('launch');
    event.detail.EC2InstanceId = 'not-an-instance';

    const result = await handler()(event, context());

    expect(result).toEqual({ status: 'rejected', reason: expect.stringMatching(/EC2InstanceId/) });
    expect(fake.ec2Mock.calls()).toHaveLength(0);
    expect(fake.asMock.calls()).toHaveLength(0);
  });

  it('throws unexpected AWS errors so Lambda retries, without completing the action', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    fake.ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('UnauthorizedOperation'));

    await expect(handler()(lifecycleEvent('launch', { instanceId }), context())).rejects.toMatchObject({
      name: 'UnauthorizedOperation',
    });
    expect(fake.completions).toHaveLength(0);
  });

  it('detaches the pool ENI on terminate so a replacement can take it, once', async () => {
    // Prepare
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    await handler()(lifecycleEvent('launch', { instanceId }), context());
    const terminate = lifecycleEvent('terminate', { instanceId });

    // Act
    const result = await handler()(terminate, context());
    const again = await handler()(terminate, context());

    // Assess
    expect(result).toMatchObject({
      status: 'done',
      action: 'detached',
      networkInterfaceIds: [expect.stringMatching(/^eni-/)],
    });
    expect(again).toMatchObject({ status: 'done', action: 'detached', networkInterfaceIds: [] });
    expect(fake.ec2Mock).toHaveReceivedCommandTimes(DetachNetworkInterfaceCommand, 1);
    expect([...fake.enis.values()].filter((e) => e.tags.HostName && !e.attachment)).toHaveLength(1);
    expect(fake.completions.map((c) => [c.LifecycleHookName, c.LifecycleActionResult])).toEqual([
      ['my-lifecycle-hook', 'CONTINUE'],
      ['my-terminate-hook', 'CONTINUE'],
    ]);
  });

  it('leaves the ENI attached on terminate when DETACH_ON_TERMINATE is false', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ);
    await handler()(lifecycleEvent('launch', { instanceId }), context());

    const result = await handler({ detachOnTerminate: false })(
      lifecycleEvent('terminate', { instanceId }),
      context(),
    );

    expect(result).toMatchObject({ status: 'skipped' });
    expect(fake.calls.DetachNetworkInterface).toBeUndefined();
  });
});

describe('Lambda mode configuration', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({ ENI_POOL_TAGS: '{"Pool":"a"}', AUTO_SCALING_GROUP_NAME: 'my-asg' })).toEqual({
      tags: { Pool: 'a' },
      scope: { groupName: 'my-asg' },
      hostnameTag: 'HostName',
      deviceIndex: 1,
      attachTimeoutMs: 120_000,
      detachOnTerminate: true,
      deadlineMarginMs: 10_000,
    });
  });

  it.each([
    [{}, 'ENI_POOL_TAGS=(unset)'],
    [{ ENI_POOL_TAGS: 'Pool=a' }, 'not valid JSON'],
    [{ ENI_POOL_TAGS: '{}' }, 'with 1 to 50 entries'],
    [
      {
        ENI_POOL_TAGS: JSON.stringify(
          Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
        ),
      },
      'with 1 to 50 entries; got 51',
    ],
    [{ ENI_POOL_TAGS: '{"aws:x":"a"}' }, 'bad entry "aws:x"'],
    [
      { ENI_POOL_TAGS: '{"Pool":"a"}', DEVICE_INDEX: '0' },
      'DEVICE_INDEX="0": expected an integer from 1 to 31',
    ],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', ATTACH_TIMEOUT_SECONDS: '900' }, 'ATTACH_TIMEOUT_SECONDS="900"'],
    [
      { ENI_POOL_TAGS: '{"Pool":"a"}', DETACH_ON_TERMINATE: 'yes' },
      'DETACH_ON_TERMINATE="yes": expected true or false',
    ],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: 'aws:name' }, 'HOSTNAME_TAG="aws:name"'],
    // Instance metadata only serves tag keys of letters, digits and + - = . , _ : @.
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: 'Host Name' }, 'HOSTNAME_TAG="Host Name"'],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: 'app/hostname' }, 'instance metadata can serve'],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: '..' }, 'HOSTNAME_TAG=".."'],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: '_index' }, 'HOSTNAME_TAG="_index"'],
    [{ ENI_POOL_TAGS: '{"Pool":"a"}' }, 'AUTO_SCALING_GROUP_NAME=(unset)'],
    [
      { ENI_POOL_TAGS: '{"Pool":"a"}', AUTO_SCALING_GROUP_NAME: 'g', LIFECYCLE_HOOK_NAMES: 'a b' },
      'LIFECYCLE_HOOK_NAMES="a b"',
    ],
  ])('names the bad variable in %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts hostname tag keys instance metadata can serve', () => {
    for (const key of ['HostName', 'netkit:hostname', 'host-name.v2', 'a@b,c=d+e_f']) {
      expect(
        loadConfig({ ENI_POOL_TAGS: '{"Pool":"a"}', HOSTNAME_TAG: key, AUTO_SCALING_GROUP_NAME: 'g' })
          .hostnameTag,
      ).toBe(key);
    }
  });
});
