import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeNetworkInterfacesCommand, DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { tagFilters } from '@netkit/aws-core/tags';
import { useEmulator, useFunction } from '@netkit/local-aws/vitest';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler, type HandlerDeps, type HandlerResult } from '../../src/create-handler.ts';
import {
  buildWorld,
  GROUP,
  HOOK,
  ipKey,
  launch,
  POOL_TAGS,
  TEMPLATE_FUNCTION,
  TERMINATE_HOOK,
  terminate,
} from '../support/world.ts';

const emu = useEmulator({ region: 'ap-northeast-1' });
const AZS = ['ap-northeast-1a', 'ap-northeast-1c'];
// Lambda mode under its template's policy; the test's set-up and checks keep the test key.
const fn = useFunction(emu, TEMPLATE_FUNCTION);

function setup() {
  const ec2 = new EC2Client(emu().clientConfig);
  const autoscaling = new AutoScalingClient(emu().clientConfig);
  // Each invocation gets its own clients, as concurrent Lambda environments do.
  const handler = (timeoutSeconds = 30) =>
    createHandler(
      {
        ec2: new EC2Client(fn().clientConfig),
        autoscaling: new AutoScalingClient(fn().clientConfig),
        logger: silentLogger,
        clock: systemClock,
        metrics: {
          addMetric: () => {},
          addDimension: () => {},
          publishStoredMetrics: () => {},
        } as unknown as HandlerDeps['metrics'],
      },
      loadConfig({
        ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
        AUTO_SCALING_GROUP_NAME: GROUP,
        ATTACH_TIMEOUT_SECONDS: String(timeoutSeconds),
      }),
    );
  return { ec2, autoscaling, handler };
}

async function launchEvent(instanceId: string, kind: 'launch' | 'terminate' = 'launch') {
  const hookName = kind === 'launch' ? HOOK : TERMINATE_HOOK;
  const token = await emu().lifecycle.begin({
    groupName: GROUP,
    hookName,
    instanceId,
    transition:
      kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
  });
  return lifecycleEvent(kind, { instanceId, token, groupName: GROUP, hookName });
}

async function poolState(ec2: EC2Client) {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(POOL_TAGS) }));
  return out.NetworkInterfaces ?? [];
}

describe('Lambda mode on the emulator', () => {
  it('gives 12 concurrent launches in two AZs one ENI each from their own AZ, then abandons a 7th launch', async () => {
    // Prepare: 6 pool ENIs per AZ, 6 instances per AZ launched together
    const { ec2, handler } = setup();
    const zones = await buildWorld(ec2, AZS, 6);
    const instances = (await Promise.all(zones.map((z) => launch(ec2, z.subnetId, 6)))).flat();
    const events = await Promise.all(instances.map((id) => launchEvent(id)));
    await emu().resetCalls();

    // Act
    const results = await Promise.all(events.map((event) => handler()(event, fakeContext(60_000))));

    // Assess: one ENI each, none shared, each from its own AZ
    const enis = await poolState(ec2);
    const byInstance = new Map<string, typeof enis>();
    for (const ni of enis) {
      const owner = ni.Attachment?.InstanceId;
      if (owner) byInstance.set(owner, [...(byInstance.get(owner) ?? []), ni]);
    }
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(byInstance.size).toBe(12);
    for (const [index, instanceId] of instances.entries()) {
      const held = byInstance.get(instanceId) ?? [];
      expect(held).toHaveLength(1);
      expect(held[0]?.AvailabilityZone).toBe(AZS[index < 6 ? 0 : 1]);
      expect(held[0]?.Attachment).toMatchObject({
        DeviceIndex: 1,
        DeleteOnTermination: false,
        Status: 'attached',
      });
    }
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(Array(12).fill('CONTINUE'));
    // The instance carries the hostname of its ENI
    const tags = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['HostName'] }] }),
    );
    for (const ni of enis) {
      const hostname = ni.TagSet?.find((t) => t.Key === 'HostName')?.Value;
      expect(tags.Tags?.find((t) => t.ResourceId === ni.Attachment?.InstanceId)?.Value).toBe(hostname);
    }
    const calls = await emu().calls();
    const attempts = results.reduce((n, r) => n + ('attempts' in r ? r.attempts : 0), 0);
    expect(calls['ec2:AttachNetworkInterface']).toBe(attempts);

    // Act: a 7th launch in AZ a finds the pool empty
    const [seventh] = await launch(ec2, zones[0]!.subnetId, 1);
    const result = await handler(3)(await launchEvent(seventh!), fakeContext(60_000));

    // Assess: ABANDON, and no ENI was taken from another instance
    expect(result).toMatchObject({ status: 'abandoned' });
    const after = await poolState(ec2);
    expect(after.filter((ni) => ni.Attachment?.InstanceId === seventh)).toHaveLength(0);
    expect(new Map(after.map((ni) => [ni.NetworkInterfaceId, ni.Attachment?.InstanceId]))).toEqual(
      new Map(enis.map((ni) => [ni.NetworkInterfaceId, ni.Attachment?.InstanceId])),
    );
    const last = (await emu().lifecycle.completions()).find((c) => c.instanceId === seventh);
    expect(last?.result).toBe('ABANDON');
  });

  it('fills the lowest addresses first when launches come one after another', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const [zone] = await buildWorld(ec2, AZS.slice(0, 1), 6);

    // Act: each launch is handled before the next instance starts (no contention)
    const ips: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [id] = await launch(ec2, zone!.subnetId, 1);
      const r = (await handler()(await launchEvent(id!), fakeContext(60_000))) as { privateIp: string };
      ips.push(r.privateIp);
    }

    // Assess
    expect(ips).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6']);
  });

  it('gives launches started together their claim-order ENIs, one attach each, even when handled one by one', async () => {
    // Prepare: one scale-out of 3 (one launch time); their events are handled one after another
    const { ec2, handler } = setup();
    const [zone] = await buildWorld(ec2, AZS.slice(0, 1), 6);
    const instances = await launch(ec2, zone!.subnetId, 3);
    await emu().resetCalls();

    // Act
    const ips = new Map<string, string>();
    for (const id of instances) {
      const r = (await handler()(await launchEvent(id), fakeContext(60_000))) as { privateIp: string };
      ips.set(id, r.privateIp);
    }

    // Assess: the three lowest addresses (each launch's rank among the three), no lost attach
    expect([...ips.values()].sort()).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect((await emu().calls())['ec2:AttachNetworkInterface']).toBe(3);
  });

  it('changes nothing when every launch event is delivered again, even concurrently', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const [zone] = await buildWorld(ec2, AZS.slice(0, 1), 4);
    const instances = await launch(ec2, zone!.subnetId, 3);
    const events = await Promise.all(instances.map((id) => launchEvent(id)));
    // the first delivery and a duplicate arrive together
    const first = await Promise.all([...events, ...events].map((e) => handler()(e, fakeContext(60_000))));
    const before = await poolState(ec2);
    await emu().resetCalls();

    // Act: redeliver everything
    const again: HandlerResult[] = await Promise.all(events.map((e) => handler()(e, fakeContext(60_000))));

    // Assess
    expect(
      new Set(first.map((r) => ('networkInterfaceId' in r ? r.networkInterfaceId : '')).filter(Boolean)).size,
    ).toBe(3);
    // The actions were completed: the heartbeat before any change finds them inactive.
    expect(again.map((r) => r.status)).toEqual(['ended', 'ended', 'ended']);
    const calls = await emu().calls();
    expect(calls['ec2:AttachNetworkInterface']).toBeUndefined();
    expect(calls['ec2:CreateTags']).toBeUndefined();
    expect(await poolState(ec2)).toEqual(before);
    expect((await emu().lifecycle.completions()).filter((c) => c.hookName === HOOK)).toHaveLength(3);
  });

  it('returns the ENI on terminate so the replacement takes the same address', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const [zone] = await buildWorld(ec2, AZS.slice(0, 1), 1);
    const [old] = await launch(ec2, zone!.subnetId, 1);
    const first = (await handler()(await launchEvent(old!), fakeContext(60_000))) as { privateIp: string };

    // Act
    const detached = await handler()(await launchEvent(old!, 'terminate'), fakeContext(60_000));
    await terminate(ec2, [old!]);
    const [replacement] = await launch(ec2, zone!.subnetId, 1);
    const second = (await handler()(await launchEvent(replacement!), fakeContext(60_000))) as {
      privateIp: string;
      status: string;
    };

    // Assess
    expect(detached).toMatchObject({
      status: 'done',
      action: 'detached',
      networkInterfaceIds: [expect.any(String)],
    });
    expect(second).toMatchObject({ status: 'done', action: 'attached', privateIp: first.privateIp });
    expect(ipKey(second.privateIp)).toBe(ipKey('10.0.0.4'));
  });
});
