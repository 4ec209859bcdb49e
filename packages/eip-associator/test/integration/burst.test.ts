import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler, type HandlerResult } from '../../src/create-handler.ts';
import {
  allocatePool,
  associations,
  beginLaunches,
  ec2CallCount,
  GROUP,
  launchInstances,
  lifecycleEventFor,
  POOL_TAGS,
  TERMINATE_HOOK,
  unreadMetrics,
} from '../support/fleet.ts';
import { useAssociatorFunction } from '../support/function.ts';

// AWS token buckets (aws-facts.md), refill rates at 1x: a 30-launch burst must fit them.
const emu = useEmulator({ throttle: { scale: 1 } });
const fn = useAssociatorFunction(emu);

/** One Lambda execution environment: its own clients, as concurrent invocations have. */
function environment(env: Record<string, string> = {}) {
  const config = loadConfig({
    EIP_POOL_TAGS: JSON.stringify(POOL_TAGS),
    AUTO_SCALING_GROUP_NAME: GROUP,
    ...env,
  });
  return createHandler(
    {
      ec2: new EC2Client({ ...fn().clientConfig, maxAttempts: 5, retryMode: 'adaptive' }),
      autoscaling: new AutoScalingClient({ ...fn().clientConfig, maxAttempts: 5, retryMode: 'adaptive' }),
      logger: silentLogger,
      clock: systemClock,
      metrics: unreadMetrics,
    },
    config,
  );
}

function invokeAll(events: unknown[], env: Record<string, string> = {}): Promise<HandlerResult[]> {
  return Promise.all(events.map((event) => environment(env)(event, fakeContext(60_000))));
}

describe('burst against the emulator with throttling on', () => {
  it('gives 30 concurrent launches one pool EIP each, completes all CONTINUE, and redelivery changes nothing', async () => {
    // Prepare
    const e = emu();
    const ec2 = new EC2Client(e.clientConfig);
    const instances = await launchInstances(ec2, 35);
    const pool = await allocatePool(ec2, 30, POOL_TAGS);
    const others = await allocatePool(ec2, 3, { 'netkit:eip-pool': 'staging ForwardProxy' });
    const first30 = instances.slice(0, 30);
    const events = await beginLaunches(e, first30);
    await e.resetCalls();

    // Act
    const results = await invokeAll(events);

    // Assess: every instance holds exactly one pool EIP, every pool EIP one instance.
    expect(results.map((r) => r.status).sort()).toEqual(Array(30).fill('done'));
    const held = await associations(ec2, pool);
    const holders = [...held.values()];
    expect(holders.every((h) => h !== undefined)).toBe(true);
    expect(new Set(holders).size).toBe(30);
    expect(new Set(holders)).toEqual(new Set(first30));
    const completions = await e.lifecycle.completions();
    expect(completions).toHaveLength(30);
    expect(completions.every((c) => c.result === 'CONTINUE')).toBe(true);
    expect(new Set(completions.map((c) => c.instanceId))).toEqual(new Set(first30));
    // EIPs with other tags are never touched.
    const untouched = await associations(ec2, others);
    expect([...untouched.values()].every((h) => h === undefined)).toBe(true);
    // O(1) calls per launch: describe the pool and the primary interface, associate, read back, plus a few
    // collisions.
    const calls = await e.calls();
    expect(calls['ec2:AssociateAddress'] ?? 0).toBeLessThan(30 * 2);
    expect(ec2CallCount(calls)).toBeLessThanOrEqual(30 * 6);

    // Act again: the same events delivered again, concurrently.
    await e.resetCalls();
    const again = await invokeAll(events);

    // Assess: nothing changed; the one liveness heartbeat finds each action over, before any EC2 call.
    expect(again.map((r) => r.status)).toEqual(Array(30).fill('ended'));
    const againCalls = await e.calls();
    expect(ec2CallCount(againCalls)).toBe(0);
    expect(againCalls['autoscaling:CompleteLifecycleAction'] ?? 0).toBe(0);
    expect(await associations(ec2, pool)).toEqual(held);
    expect((await e.lifecycle.completions()).length).toBe(30);

    // Act: 5 more launches against the now empty pool.
    const more = await beginLaunches(e, instances.slice(30));
    await e.resetCalls();
    const abandoned = await invokeAll(more, { ASSOCIATE_TIMEOUT_SECONDS: '2' });

    // Assess: 5 explicit ABANDONs, no association.
    expect(abandoned.map((r) => r.status)).toEqual(Array(5).fill('abandoned'));
    expect(abandoned[0]).toMatchObject({ pool: { size: 30, free: 0, exhausted: true } });
    const all = await e.lifecycle.completions();
    const lateCompletions = all.filter((c) => instances.slice(30).includes(c.instanceId));
    expect(lateCompletions.map((c) => c.result)).toEqual(Array(5).fill('ABANDON'));
    expect((await e.calls())['ec2:AssociateAddress'] ?? 0).toBe(0);
    expect(await associations(ec2, pool)).toEqual(held);

    // Act: a terminate frees one EIP, then the abandoned launches' events arrive again (late retry).
    const freedInstance = first30[0]!;
    const terminateToken = await e.lifecycle.begin({
      groupName: GROUP,
      hookName: TERMINATE_HOOK,
      instanceId: freedInstance,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    });
    await invokeAll([lifecycleEventFor('terminate', freedInstance, terminateToken)]);
    const late = await invokeAll(more, { ASSOCIATE_TIMEOUT_SECONDS: '2' });

    // Assess: the abandoned instances are going away; none takes the freed EIP.
    expect(late.map((r) => r.status)).toEqual(Array(5).fill('ended'));
    const after = await associations(ec2, pool);
    expect([...after.values()].filter((h) => h === undefined)).toHaveLength(1);
    expect([...after.values()].some((h) => h !== undefined && instances.slice(30).includes(h))).toBe(false);
  });

  it('handles the original event and a duplicate delivered at the same time: one EIP on the instance', async () => {
    // Prepare
    const e = emu();
    const ec2 = new EC2Client(e.clientConfig);
    const instances = await launchInstances(ec2, 4);
    const pool = await allocatePool(ec2, 6, POOL_TAGS);
    const events = await beginLaunches(e, instances);

    // Act: each event delivered three times concurrently.
    const results = await invokeAll([...events, ...events, ...events]);

    // Assess
    // A delivery that starts after its twin completed finds the action over: `ended`.
    expect(results.every((r) => ['done', 'already-done', 'ended'].includes(r.status))).toBe(true);
    const held = await associations(ec2, pool);
    const holders = [...held.values()].filter((h) => h !== undefined);
    expect(holders.sort()).toEqual([...instances].sort());
    const completions = await e.lifecycle.completions();
    expect(completions).toHaveLength(4);
    expect(completions.every((c) => c.result === 'CONTINUE')).toBe(true);
  });

  it('releases the EIP on terminate so a replacement launch can take it', async () => {
    // Prepare
    const e = emu();
    const ec2 = new EC2Client(e.clientConfig);
    const [old, replacement] = await launchInstances(ec2, 2);
    const pool = await allocatePool(ec2, 1, POOL_TAGS);
    const [launchOld] = await beginLaunches(e, [old!]);
    await invokeAll([launchOld]);
    const token = await e.lifecycle.begin({
      groupName: GROUP,
      hookName: TERMINATE_HOOK,
      instanceId: old!,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    });
    const terminate = lifecycleEventFor('terminate', old!, token);

    // Act
    const [released] = await invokeAll([terminate, terminate]);
    const [launchNew] = await beginLaunches(e, [replacement!]);
    const [taken] = await invokeAll([launchNew]);

    // Assess
    expect(released).toMatchObject({ status: 'done' });
    expect(taken).toMatchObject({ status: 'done', allocationId: pool[0] });
    expect((await associations(ec2, pool)).get(pool[0]!)).toBe(replacement);
    const completions = await e.lifecycle.completions();
    expect(completions.filter((c) => c.hookName === TERMINATE_HOOK).map((c) => c.result)).toEqual([
      'CONTINUE',
    ]);
  });

  it('rejects an invalid event without any AWS call', async () => {
    // Prepare
    const e = emu();
    await e.resetCalls();
    const event = { ...lifecycleEventFor('launch', 'i-0123456789abcdef0', 'tok'), source: 'aws.ec2' };

    // Act
    const [result] = await invokeAll([event]);

    // Assess
    expect(result).toMatchObject({ status: 'rejected' });
    expect(await e.calls()).toEqual({});
  });
});
