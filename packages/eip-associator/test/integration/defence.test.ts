// Defence in depth against the emulator: events of another group change nothing, and a burst of
// transient server faults is retried within the invocation instead of failing it.

import { EC2Client } from '@aws-sdk/client-ec2';
import { DEFAULT_MAX_ATTEMPTS } from '@netkit/aws-core/clients';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { describe, expect, it } from 'vitest';
import {
  allocatePool,
  associations,
  beginLaunches,
  GROUP,
  HOOK,
  launchInstances,
  lifecycleEventFor,
  POOL_TAGS,
} from '../support/fleet.ts';
import { associatorHandler, useAssociatorFunction } from '../support/function.ts';

const emu = useEmulator();
const fn = useAssociatorFunction(emu);

describe('eip-associator defence in depth', () => {
  it('makes no AWS call for a live launch of another group, and completes nothing', async () => {
    // Prepare: a live lifecycle action of another group, for an instance and a free pool EIP.
    const e = emu();
    const ec2 = new EC2Client(e.clientConfig);
    const [instance] = await launchInstances(ec2, 1);
    const pool = await allocatePool(ec2, 1, POOL_TAGS);
    const token = await e.lifecycle.begin({
      groupName: 'someone-elses-asg',
      hookName: HOOK,
      instanceId: instance!,
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    });
    await e.resetCalls();

    // Act
    const result = await associatorHandler(fn())(
      lifecycleEventFor('launch', instance!, token, { group: 'someone-elses-asg', region: e.region }),
      fakeContext(60_000),
    );

    // Assess
    expect(result).toEqual({
      status: 'rejected',
      reason: `Lifecycle event is for Auto Scaling group "someone-elses-asg", not the configured AUTO_SCALING_GROUP_NAME "${GROUP}"`,
    });
    expect(await e.calls()).toEqual({});
    expect(await e.lifecycle.completions()).toEqual([]);
    expect([...(await associations(ec2, pool)).values()]).toEqual([undefined]);
  });

  it('completes a launch within the invocation through a burst of transient 500s on every step', async () => {
    // Prepare: more consecutive faults per call than the SDK's own attempts, on each step.
    const e = emu();
    const ec2 = new EC2Client(e.clientConfig);
    const instances = await launchInstances(ec2, 1);
    const pool = await allocatePool(ec2, 2, POOL_TAGS);
    const [event] = await beginLaunches(e, instances);
    const burst = DEFAULT_MAX_ATTEMPTS + 2;
    for (const [service, action] of [
      ['ec2', 'DescribeAddresses'],
      ['ec2', 'AssociateAddress'],
      ['autoscaling', 'RecordLifecycleActionHeartbeat'],
      ['autoscaling', 'CompleteLifecycleAction'],
    ] as const) {
      await e.injectFault({ service, action, times: burst, status: 500, code: 'InternalError' });
    }
    await e.resetCalls();

    // Act
    const result = await associatorHandler(fn())(event, fakeContext(120_000));

    // Assess: associated and completed CONTINUE in this one invocation, after the faults.
    expect(result).toMatchObject({ status: 'done', instanceId: instances[0], completion: 'completed' });
    const held = [...(await associations(ec2, pool)).values()].filter((h) => h !== undefined);
    expect(held).toEqual([instances[0]]);
    expect((await e.lifecycle.completions()).map((c) => c.result)).toEqual(['CONTINUE']);
    const calls = await e.calls();
    expect(calls['ec2:AssociateAddress']).toBeGreaterThan(burst);
    expect(calls['autoscaling:CompleteLifecycleAction']).toBeGreaterThan(burst);
  });
});
