// At-least-once delivery against the built bundle: every launch event is delivered twice at once
// (EventBridge and Lambda's asynchronous queue may do so), with EC2's Describe lagging behind each
// launch and each attach (emulator describeLagMs, attachLagMs). The loser of each race must never
// complete ABANDON: it waits for the winner's ENI or fails for redelivery.

import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { tagFilters } from '@netkit/aws-core/tags';
import { type BundleHandler, importBundle, isolatedBundle } from '@netkit/demo';
import { useEmulator, useFunction } from '@netkit/local-aws/vitest';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { deliverAtLeastOnce, executionEnvironments, failHalfOfAllCalls } from '@netkit/testing/delivery';
import { beforeAll, describe, expect, it } from 'vitest';
import { distDir, ensureBuilt } from '../support/dist.ts';
import { buildWorld, GROUP, HOOK, launch, POOL_TAGS, TEMPLATE_FUNCTION } from '../support/world.ts';

const emu = useEmulator({ region: 'ap-northeast-1' });
const AZS = ['ap-northeast-1a', 'ap-northeast-1c'];
const LAG_MS = 1_500;
// The bundle runs under the Lambda mode's template policy; set-up keeps the test key.
const fn = useFunction(emu, TEMPLATE_FUNCTION);

beforeAll(() => ensureBuilt(), 180_000);

async function setup() {
  const ec2 = new EC2Client(emu().clientConfig);
  const zones = await buildWorld(ec2, AZS, 6);
  await emu().configure({ describeLagMs: LAG_MS, attachLagMs: LAG_MS });
  const instances = (await Promise.all(zones.map((z) => launch(ec2, z.subnetId, 6)))).flat();
  const env = {
    ...fn().env,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
    AUTO_SCALING_GROUP_NAME: GROUP,
    LIFECYCLE_HOOK_NAMES: HOOK,
    ATTACH_TIMEOUT_SECONDS: '40',
  };
  const events = await Promise.all(
    instances.map(async (instanceId) => {
      const token = await emu().lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId });
      return lifecycleEvent('launch', { instanceId, token, groupName: GROUP, hookName: HOOK });
    }),
  );
  const bundle = await importBundle<{ handler: BundleHandler }>(distDir, 'index', env);
  const handler = bundle.handler as (event: unknown, context: unknown) => Promise<unknown>;
  return { ec2, instances, events, handler, env };
}

async function poolByInstance(ec2: EC2Client) {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(POOL_TAGS) }));
  const held = new Map<string, number>();
  for (const ni of out.NetworkInterfaces ?? []) {
    const owner = ni.Attachment?.InstanceId;
    if (owner) held.set(owner, (held.get(owner) ?? 0) + 1);
  }
  return held;
}

describe('duplicate delivery of every launch event (at-least-once), Describe lagging', () => {
  it('never abandons: each instance ends CONTINUE with exactly one pool ENI', async () => {
    // Prepare
    const { ec2, instances, events, handler } = await setup();

    // Act
    const deliveries = await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().configure({ describeLagMs: 0, attachLagMs: 0 });
    const outcomes = deliveries.flat().map((d) => (d.outcome as { status?: string } | undefined)?.status);
    expect(outcomes).not.toContain('abandoned');
    expect(outcomes).not.toContain(undefined);
    // The lag is long enough that a losing delivery met the winner's ENI only after its claim lost.
    expect(outcomes).toContain('already-done');
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(instances.map(() => 'CONTINUE'));
    const held = await poolByInstance(ec2);
    expect(instances.map((id) => held.get(id) ?? 0)).toEqual(instances.map(() => 1));
  }, 150_000);

  it('faulted run: every instance that completed CONTINUE holds a pool ENI', async () => {
    // Prepare: half of all EC2 and Auto Scaling calls fail (four independent draws of 0.16:
    // 500s, throttling, connections reset before and after AWS acted)
    const { ec2, events, env } = await setup();
    // Each concurrent invocation runs in an execution environment of its own (the bundle in a
    // worker, with its own SDK clients), as Lambda runs them: one shared client's adaptive rate
    // limiter, throttled by every delivery's faults, would hold all of them back at once.
    const handler = executionEnvironments(async () => isolatedBundle(distDir, 'index', env).handler);
    await failHalfOfAllCalls((fault) => emu().injectFault(fault), 31);

    // Act
    await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().clearFaults();
    await emu().configure({ describeLagMs: 0, attachLagMs: 0 });
    const completions = await emu().lifecycle.completions();
    const continued = completions.filter((c) => c.result === 'CONTINUE').map((c) => c.instanceId);
    expect(continued.length).toBeGreaterThan(0);
    const held = await poolByInstance(ec2);
    expect(continued.filter((id) => held.get(id) !== 1)).toEqual([]);
  }, 240_000);
});
