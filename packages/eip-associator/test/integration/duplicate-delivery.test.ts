// At-least-once delivery against the built bundle: every launch event is delivered twice at once
// (EventBridge and Lambda's asynchronous queue may do so), while EC2's Describe lags behind each
// launch, attach and association (emulator describeLagMs, attachLagMs, associateLagMs). The two
// deliveries of one event race for one instance: it must end with exactly one pool EIP and
// CONTINUE, never ABANDON.
import { resolve } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { type BundleHandler, importBundle, isolatedBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { deliverAtLeastOnce, executionEnvironments, failHalfOfAllCalls } from '@netkit/testing/delivery';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allocatePool,
  associations,
  beginLaunches,
  GROUP,
  HOOK,
  launchInstances,
  POOL_TAGS,
} from '../support/fleet.ts';
import { useAssociatorFunction } from '../support/function.ts';

const emu = useEmulator();
// The bundle runs under the function's template policy; set-up keeps the test key.
const fn = useAssociatorFunction(emu);
let distDir = '';
const LAUNCHES = 14;

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'), ['index']);
}, 180_000);

async function setup() {
  const ec2 = new EC2Client(emu().clientConfig);
  await emu().configure({ describeLagMs: 1_500, attachLagMs: 1_500, associateLagMs: 1_500 });
  const instances = await launchInstances(ec2, LAUNCHES);
  const pool = await allocatePool(ec2, LAUNCHES, POOL_TAGS);
  const env = {
    ...fn().env,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    EIP_POOL_TAGS: JSON.stringify(POOL_TAGS),
    ASSOCIATE_TIMEOUT_SECONDS: '30',
    AUTO_SCALING_GROUP_NAME: GROUP,
    LIFECYCLE_HOOK_NAMES: HOOK,
  };
  const bundle = await importBundle<{ handler: BundleHandler }>(distDir, 'index', env);
  const events = await beginLaunches(emu(), instances);
  const handler = bundle.handler as (event: unknown, context: unknown) => Promise<unknown>;
  return { ec2, instances, pool, events, handler, env };
}

/** Pool EIPs held per instance. */
async function heldBy(ec2: EC2Client, pool: string[]) {
  const held = new Map<string, number>();
  for (const instanceId of (await associations(ec2, pool)).values()) {
    if (instanceId !== undefined) held.set(instanceId, (held.get(instanceId) ?? 0) + 1);
  }
  return held;
}

describe('duplicate delivery of every launch event (at-least-once), Describe lagging', () => {
  it('never abandons: each instance ends CONTINUE with exactly one pool EIP', async () => {
    // Prepare
    const { ec2, instances, pool, events, handler } = await setup();

    // Act
    const deliveries = await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().configure({ describeLagMs: 0, attachLagMs: 0, associateLagMs: 0 });
    const outcomes = deliveries.flat().map((d) => (d.outcome as { status?: string } | undefined)?.status);
    expect(outcomes).not.toContain('abandoned');
    expect(outcomes).not.toContain(undefined);
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(instances.map(() => 'CONTINUE'));
    const held = await heldBy(ec2, pool);
    expect(instances.map((id) => held.get(id) ?? 0)).toEqual(instances.map(() => 1));
  }, 120_000);

  it('faulted run: every instance that completed CONTINUE holds a pool EIP', async () => {
    // Prepare: half of all EC2 and Auto Scaling calls fail (four independent draws of 0.16:
    // 500s, throttling, connections reset before and after AWS acted)
    const { ec2, pool, events, env } = await setup();
    // Each concurrent invocation runs in an execution environment of its own (the bundle in a
    // worker, with its own SDK clients), as Lambda runs them: one shared client's adaptive rate
    // limiter, throttled by every delivery's faults, would hold all of them back at once.
    const handler = executionEnvironments(async () => isolatedBundle(distDir, 'index', env).handler);
    await failHalfOfAllCalls((fault) => emu().injectFault(fault), 23);

    // Act
    await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().clearFaults();
    await emu().configure({ describeLagMs: 0, attachLagMs: 0, associateLagMs: 0 });
    const completions = await emu().lifecycle.completions();
    const continued = completions.filter((c) => c.result === 'CONTINUE').map((c) => c.instanceId);
    expect(continued.length).toBeGreaterThan(0);
    const held = await heldBy(ec2, pool);
    expect(continued.filter((id) => held.get(id) !== 1)).toEqual([]);
  }, 180_000);
});
