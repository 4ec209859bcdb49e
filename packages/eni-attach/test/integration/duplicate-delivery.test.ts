// At-least-once delivery against the built bundle: every launch event is delivered twice at once
// (EventBridge and Lambda's asynchronous queue may do so), with EC2's Describe lagging behind each
// attach (emulator attachLagMs, "Eventual consistency in the Amazon EC2 API"). The loser of each
// race must never complete ABANDON: it waits for the winner's attachment or fails for redelivery.
import { resolve } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { type BundleHandler, importBundle, isolatedBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { deliverAtLeastOnce, executionEnvironments, failHalfOfAllCalls } from '@netkit/testing/delivery';
import { beforeAll, describe, expect, it } from 'vitest';
import { ownInterfaces, runInstances, twoVpcWorld } from '../../demo/world.ts';
import { GROUP, HOOK, launchEvent, registerLaunchFunction } from '../support/harness.ts';

const emu = useEmulator();
let distDir = '';
const ATTACH_LAG_MS = 1_500;

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'), ['index']);
}, 180_000);

async function setup(perAz: number) {
  const ec2 = new EC2Client(emu().clientConfig);
  const world = await twoVpcWorld(ec2, emu().region);
  const instances: string[] = [];
  for (const az of world.zones) instances.push(...(await runInstances(ec2, world.sourceSubnets[az]!, perAz)));
  const config = {
    SUBNET_MAP: JSON.stringify(world.targetSubnets),
    SECURITY_GROUP_IDS: world.targetSecurityGroupId,
    AUTO_SCALING_GROUP_NAME: GROUP,
    LIFECYCLE_HOOK_NAMES: HOOK,
  };
  // The bundle runs under the launch function's template policy; set-up keeps the test key.
  const fn = await registerLaunchFunction(emu(), world);
  const env = {
    ...fn.env,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    ...config,
  };
  const bundle = await importBundle<{ handler: BundleHandler }>(distDir, 'index', env);
  const events = await Promise.all(instances.map((id) => launchEvent(emu(), id)));
  const handler = bundle.handler as (event: unknown, context: unknown) => Promise<unknown>;
  return { ec2, instances, events, handler, env };
}

describe('duplicate delivery of every launch event (at-least-once), attachments lagging in Describe', () => {
  it('never abandons: each instance ends CONTINUE with exactly one ENI, and no interface is orphaned', async () => {
    // Prepare
    const { ec2, instances, events, handler } = await setup(5);
    await emu().configure({ attachLagMs: ATTACH_LAG_MS });

    // Act
    const deliveries = await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().configure({ attachLagMs: 0 });
    const outcomes = deliveries.flat().map((d) => (d.outcome as { status?: string } | undefined)?.status);
    expect(outcomes).not.toContain('abandoned');
    expect(outcomes).not.toContain(undefined);
    // The lag is long enough that a losing delivery met the winner's ENI only after its claim lost.
    expect(outcomes).toContain('already-done');
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(instances.map(() => 'CONTINUE'));
    const own = await ownInterfaces(ec2);
    expect(own.map((e) => e.Attachment?.InstanceId).sort()).toEqual([...instances].sort());
    expect(own.every((e) => e.Attachment?.DeviceIndex === 1 && e.Attachment.DeleteOnTermination)).toBe(true);
  }, 120_000);

  it('faulted run: every instance that completed CONTINUE holds its ENI', async () => {
    // Prepare
    const { ec2, events, env } = await setup(5);
    // Each concurrent invocation runs in an execution environment of its own (the bundle in a
    // worker, with its own SDK clients), as Lambda runs them: one shared client's adaptive rate
    // limiter, throttled by every delivery's faults, would hold all of them back at once.
    const handler = executionEnvironments(async () => isolatedBundle(distDir, 'index', env).handler);
    await emu().configure({ attachLagMs: ATTACH_LAG_MS });
    await failHalfOfAllCalls((fault) => emu().injectFault(fault), 11);

    // Act
    await Promise.all(
      events.map((e) => deliverAtLeastOnce(handler, e, { context: () => fakeContext(60_000) })),
    );

    // Assess
    await emu().clearFaults();
    await emu().configure({ attachLagMs: 0 });
    const completions = await emu().lifecycle.completions();
    const continued = completions.filter((c) => c.result === 'CONTINUE').map((c) => c.instanceId);
    expect(continued.length).toBeGreaterThan(0);
    const own = await ownInterfaces(ec2);
    for (const instanceId of continued) {
      const held = own.filter(
        (e) => e.Attachment?.InstanceId === instanceId && e.Attachment.DeviceIndex === 1,
      );
      expect(held, instanceId).toHaveLength(1);
    }
  }, 180_000);
});
