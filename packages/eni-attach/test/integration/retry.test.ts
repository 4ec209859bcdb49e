import { resolve } from 'node:path';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type BundleHandler, importBundle } from '@netkit/demo';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { interfacesOf, ownInterfaces, runInstances, twoVpcWorld } from '../../demo/world.ts';
import type { LaunchReport } from '../../src/handle-launch.ts';
import { GROUP, HOOK, launchEvent, registerLaunchFunction } from '../support/harness.ts';

// The emulator answers a reused CreateNetworkInterface ClientToken with the first ENI, even after
// it was deleted (as EC2 does), so a retry after a cleanup that deleted it would get a dead ENI.
const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'), ['index']);
}, 240_000);

describe('retry of the same event after a transient failure (built bundle)', () => {
  it('an invocation that runs out of time while EC2 throttles the attach, then its retry: one ENI attached, CONTINUE, no orphan', async () => {
    // Prepare
    const ec2 = new EC2Client(emu().clientConfig);
    const world = await twoVpcWorld(ec2, emu().region);
    const [instanceId] = await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, 1);
    const fn = await registerLaunchFunction(emu(), world);
    const { handler } = await importBundle<{ handler: BundleHandler }>(distDir, 'index', {
      ...fn.env,
      SUBNET_MAP: JSON.stringify(world.targetSubnets),
      SECURITY_GROUP_IDS: world.targetSecurityGroupId,
      AUTO_SCALING_GROUP_NAME: GROUP,
      AWS_MAX_ATTEMPTS: '2',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    const event = await launchEvent(emu(), instanceId!);
    await emu().injectFault({
      service: 'ec2',
      action: 'AttachNetworkInterface',
      times: 10_000,
      code: 'RequestLimitExceeded',
      message: 'Request limit exceeded.',
      status: 503,
    });

    // Act: the first invocation has 6 s and EC2 throttles every attach.
    const first = handler(event, fakeContext(6_000));

    // Assess: it fails (Lambda will retry the same event) and completes nothing.
    await expect(first).rejects.toMatchObject({
      name: expect.stringMatching(/RequestLimitExceeded|Deadline/),
    });
    expect(await emu().lifecycle.completions()).toEqual([]);

    // Act: throttling is over; Lambda retries the same event.
    await emu().clearFaults();
    const retried = (await handler(event, fakeContext(60_000))) as LaunchReport;

    // Assess
    expect(retried.result).toBe('CONTINUE');
    const attached = (await interfacesOf(ec2, instanceId!)).filter((e) => e.Attachment?.DeviceIndex === 1);
    expect(attached).toHaveLength(1);
    expect(attached[0]!.Attachment?.DeleteOnTermination).toBe(true);
    const own = await ownInterfaces(ec2);
    expect(own.map((e) => e.NetworkInterfaceId)).toEqual([attached[0]!.NetworkInterfaceId]);
    const orphans = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'status', Values: ['available'] }] }),
    );
    expect(orphans.NetworkInterfaces ?? []).toEqual([]);
    expect((await emu().lifecycle.completions()).map((c) => c.result)).toEqual(['CONTINUE']);
  });

  it('the hook times out while EC2 throttles the attach: the invocation stops, deletes its ENI, completes nothing and returns "ended"', async () => {
    // Prepare
    const ec2 = new EC2Client(emu().clientConfig);
    const world = await twoVpcWorld(ec2, emu().region);
    const [instanceId] = await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, 1);
    const fn = await registerLaunchFunction(emu(), world);
    const { handler } = await importBundle<{ handler: BundleHandler }>(distDir, 'index', {
      ...fn.env,
      SUBNET_MAP: JSON.stringify(world.targetSubnets),
      SECURITY_GROUP_IDS: world.targetSecurityGroupId,
      AUTO_SCALING_GROUP_NAME: GROUP,
      HEARTBEAT_INTERVAL_SECONDS: '10',
      AWS_MAX_ATTEMPTS: '2',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    // The hook's HeartbeatTimeout is 3 s: shorter than the function's 10 s heartbeat interval.
    const token = await emu().lifecycle.begin({
      groupName: GROUP,
      hookName: HOOK,
      instanceId: instanceId!,
      heartbeatTimeoutMs: 3_000,
      defaultResult: 'ABANDON',
    });
    const event = lifecycleEvent('launch', {
      instanceId: instanceId!,
      token,
      groupName: GROUP,
      hookName: HOOK,
    });
    await emu().injectFault({
      service: 'ec2',
      action: 'AttachNetworkInterface',
      times: 10_000,
      code: 'RequestLimitExceeded',
      message: 'Request limit exceeded.',
      status: 503,
    });

    // Act
    const result = (await handler(event, fakeContext(90_000))) as { status: string; deleted: string[] };

    // Assess: a clear, non-retried outcome; the ENI it created is gone; only the timeout completed the action
    expect(result.status).toBe('ended');
    expect(result.deleted).toHaveLength(1);
    expect(await ownInterfaces(ec2)).toEqual([]);
    expect(await emu().lifecycle.completions()).toEqual([
      expect.objectContaining({ instanceId, result: 'ABANDON', timedOut: true }),
    ]);
    await emu().clearFaults();
  }, 120_000);
});
