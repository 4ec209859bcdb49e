import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
} from '@aws-sdk/client-ec2';
import { RaceUnsettledError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { Deadline } from '@netkit/aws-core/retry';
import { manualClock } from '@netkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { allocate } from '../../src/allocate.ts';
import type { Pool } from '../../src/config.ts';
import {
  AttachmentLimitError,
  AttachTimeoutError,
  DeviceIndexTakenError,
  InstanceNotFoundError,
  PoolExhaustedError,
} from '../../src/errors.ts';
import { release } from '../../src/release.ts';
import { awsError, FakeEc2, POOL_TAGS, seedPool } from '../support/fake-ec2.ts';

const pool: Pool = { tags: POOL_TAGS, hostnameTag: 'HostName', deviceIndex: 1 };
const AZ_A = 'ap-northeast-1a';
const AZ_C = 'ap-northeast-1c';

let fake: FakeEc2;
let clock: ReturnType<typeof manualClock>;
const deps = () => ({ ec2: fake.client, clock, logger: silentLogger, random: () => 0.5 });
const deadline = (ms = 60_000) => Deadline.in(ms, clock);

beforeEach(() => {
  fake = new FakeEc2();
  clock = manualClock();
});

describe('allocate', () => {
  it('attaches the lowest private IP of the pool in the instance AZ, in numeric order', async () => {
    // Prepare: string order would pick 10.0.0.10 before 10.0.0.9
    fake.addEni({ ip: '10.0.0.10', az: AZ_A, subnetId: 's', tags: { ...POOL_TAGS, HostName: 'ten' } });
    fake.addEni({ ip: '10.0.0.9', az: AZ_A, subnetId: 's', tags: { ...POOL_TAGS, HostName: 'nine' } });
    fake.addEni({ ip: '10.0.0.5', az: AZ_A, subnetId: 's', tags: { Other: 'x' } }); // not in the pool
    fake.addEni({ ip: '10.0.1.4', az: AZ_C, subnetId: 's', tags: { ...POOL_TAGS } }); // other AZ
    const instanceId = fake.addInstance(AZ_A);

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(result).toMatchObject({ outcome: 'attached', attempts: 1, availabilityZone: AZ_A });
    expect(result.eni).toMatchObject({ privateIp: '10.0.0.9', hostname: 'nine' });
    expect(result.gauge).toEqual({ size: 2, free: 1 });
    expect(fake.attachedTo(instanceId).map((e) => e.ip)).toEqual(expect.arrayContaining(['10.0.0.9']));
    expect(fake.ec2Mock).toHaveReceivedCommandWith(DescribeNetworkInterfacesCommand, {
      Filters: [
        { Name: 'tag:netkit:eni-pool', Values: ['app'] },
        { Name: 'availability-zone', Values: [AZ_A] },
      ],
    });
    expect(fake.ec2Mock).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, {
      InstanceId: instanceId,
      DeviceIndex: 1,
    });
  });

  it('moves on to another ENI when the first one is taken by another instance between list and attach', async () => {
    // Prepare: a rival attaches the lowest ENI just before our attach lands
    const [lowest] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 3);
    const rival = fake.addInstance(AZ_A);
    const instanceId = fake.addInstance(AZ_A);
    fake.beforeAttach = (networkInterfaceId) => {
      if (networkInterfaceId === lowest!.id && !lowest!.attachment) {
        lowest!.attachment = {
          id: 'eni-attach-rival',
          instanceId: rival,
          deviceIndex: 1,
          status: 'attached',
          deleteOnTermination: false,
        };
      }
    };

    // Act: random() = 0 picks the lowest of the spread window
    const result = await allocate({ instanceId }, pool, { ...deps(), random: () => 0 }, deadline());

    // Assess
    expect(lowest!.attachment?.instanceId).toBe(rival);
    expect(result).toMatchObject({ outcome: 'attached', attempts: 2, collisions: 1 });
    expect(result.eni.privateIp).toBe('10.0.0.5');
  });

  it('after a lost race tries its own position again, and from the second loss spreads over 2^(k-1) free ENIs', async () => {
    // Prepare: every attach loses until the third try
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 8);
    const rival = fake.addInstance(AZ_A);
    const instanceId = fake.addInstance(AZ_A);
    const tried: string[] = [];
    fake.beforeAttach = (networkInterfaceId) => {
      const eni = fake.enis.get(networkInterfaceId)!;
      tried.push(eni.ip);
      if (tried.length <= 2) {
        eni.attachment = {
          id: `eni-attach-r${tried.length}`,
          instanceId: rival,
          deviceIndex: 1 + tried.length,
          status: 'attached',
          deleteOnTermination: false,
        };
      }
    };

    // Act: random() just under 1 picks the top of each window
    const result = await allocate({ instanceId }, pool, { ...deps(), random: () => 0.999 }, deadline());

    // Assess: 1st lowest; after one loss the lowest of a fresh list (.5); after two, the top of
    // the 2 lowest fresh free (.6, .7 -> .7)
    expect(tried).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.7']);
    expect(result).toMatchObject({ attempts: 3, collisions: 2 });
  });

  it('gives each of a burst of concurrent launches its own ENI from its own AZ', async () => {
    // Prepare: 6 ENIs per AZ, 6 launches per AZ, all at once
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 6);
    seedPool(fake, AZ_C, '10.0.1', 'server-c', 6);
    const instances = [...Array(12)].map((_, i) => fake.addInstance(i % 2 ? AZ_C : AZ_A));

    // Act
    const results = await Promise.all(
      instances.map((instanceId) =>
        allocate({ instanceId }, pool, { ...deps(), random: Math.random }, deadline()),
      ),
    );

    // Assess
    const ids = results.map((r) => r.eni.networkInterfaceId);
    expect(new Set(ids).size).toBe(12);
    for (const [i, r] of results.entries()) {
      expect(r.eni.availabilityZone).toBe(i % 2 ? AZ_C : AZ_A);
      expect(fake.attachedTo(instances[i]!).filter((e) => e.attachment?.deviceIndex === 1)).toHaveLength(1);
    }
    expect(fake.calls.AttachNetworkInterface).toBe(results.reduce((n, r) => n + r.attempts, 0));
  });

  it('does not attach a second ENI when the instance already holds a pool ENI', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A);
    const first = await allocate({ instanceId }, pool, deps(), deadline());
    fake.ec2Mock.resetHistory();

    // Act
    const again = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(again).toMatchObject({ outcome: 'already-held', attempts: 0 });
    expect(again.eni.networkInterfaceId).toBe(first.eni.networkInterfaceId);
    expect(fake.ec2Mock).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
  });

  it('gives one ENI to an instance whose event is processed twice at the same time', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 4);
    const instanceId = fake.addInstance(AZ_A);

    // Act
    const [a, b] = await Promise.all([
      allocate({ instanceId }, pool, deps(), deadline()),
      allocate({ instanceId }, pool, deps(), deadline()),
    ]);

    // Assess
    expect(a.eni.networkInterfaceId).toBe(b.eni.networkInterfaceId);
    expect(fake.attachedTo(instanceId)).toHaveLength(2); // primary + one pool ENI
  });

  it('turns DeleteOnTermination back off on a held pool ENI so it returns to the pool', async () => {
    // Prepare
    const [eni] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    eni!.attachment = {
      id: 'eni-attach-x',
      instanceId,
      deviceIndex: 1,
      status: 'attached',
      deleteOnTermination: true,
    };

    // Act
    await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(eni!.attachment?.deleteOnTermination).toBe(false);
    expect(fake.calls.ModifyNetworkInterfaceAttribute).toBe(1);
  });

  it('refuses without attaching when another interface already uses the device index', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.addEni({
      ip: '172.31.9.9',
      az: AZ_A,
      subnetId: 's',
      tags: {},
      attachment: {
        id: 'eni-attach-y',
        instanceId,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: true,
      },
    });

    // Act / Assess
    await expect(allocate({ instanceId }, pool, deps(), deadline())).rejects.toThrow(DeviceIndexTakenError);
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
  });

  it('waits with backoff while the pool is empty and takes an ENI freed in the meantime', async () => {
    // Prepare: the only ENI is held by an old instance that lets it go after 5 s
    const [eni] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const old = fake.addInstance(AZ_A);
    eni!.attachment = {
      id: 'eni-attach-old',
      instanceId: old,
      deviceIndex: 1,
      status: 'attached',
      deleteOnTermination: false,
    };
    const instanceId = fake.addInstance(AZ_A);
    const freeAt = clock.now() + 5_000;
    const sleep = clock.sleep;
    clock.sleep = async (ms: number, signal?: AbortSignal) => {
      await sleep(ms, signal);
      if (clock.now() >= freeAt && eni!.attachment?.instanceId === old) eni!.attachment = undefined;
    };

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(result.eni.networkInterfaceId).toBe(eni!.id);
    expect(eni!.attachment?.instanceId).toBe(instanceId);
    expect(clock.sleeps.length).toBeGreaterThan(1);
    expect(clock.sleeps.every((ms) => ms >= 500 && ms <= 10_000)).toBe(true);
  });

  it('gives up with PoolExhaustedError when no ENI frees up before the deadline', async () => {
    // Prepare
    const instanceId = fake.addInstance(AZ_A);
    seedPool(fake, AZ_C, '10.0.1', 'server-c', 3); // only in the other AZ

    // Act
    const error = await allocate({ instanceId }, pool, deps(), deadline(30_000)).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PoolExhaustedError);
    expect((error as PoolExhaustedError).availabilityZone).toBe(AZ_A);
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
    expect(clock.now() - Date.parse('2026-11-21T10:00:00Z')).toBeLessThanOrEqual(30_000);
  });

  it('waits until the attachment is attached', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.attachingDescribes = 2;

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(result.eni.attachment?.status).toBe('attached');
    expect(clock.sleeps.length).toBe(2);
  });

  it('detaches the ENI again when the attachment never completes', async () => {
    // Prepare
    const [eni] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.attachingDescribes = 1_000;

    // Act
    const error = await allocate({ instanceId }, pool, deps(), deadline(10_000)).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AttachTimeoutError);
    expect(eni!.attachment).toBeUndefined();
    expect(fake.calls.DetachNetworkInterface).toBe(1);
  });

  it('keeps the ENI attached when confirming fails transiently: a concurrent delivery may have seen it held', async () => {
    // Prepare: every describe after the attach fails (a server fault past the deadline's retries)
    const [eni] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.attachingDescribes = 1_000;
    fake.beforeAttach = () => {
      fake.ec2Mock.on(DescribeNetworkInterfacesCommand).rejects(awsError('UnauthorizedOperation'));
    };

    // Act
    const error = await allocate({ instanceId }, pool, deps(), deadline(10_000)).catch((e: unknown) => e);

    // Assess
    expect(error).not.toBeInstanceOf(AttachTimeoutError);
    expect(eni!.attachment?.instanceId).toBe(instanceId);
    expect(fake.calls.DetachNetworkInterface).toBeUndefined();
  });

  it('retries throttled calls with backoff', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.ec2Mock
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(awsError('RequestLimitExceeded'))
      .callsFakeOnce(async (input) => {
        const eni = fake.enis.get(input.NetworkInterfaceId ?? '')!;
        eni.attachment = {
          id: 'eni-attach-z',
          instanceId,
          deviceIndex: 1,
          status: 'attached',
          deleteOnTermination: false,
        };
        return { AttachmentId: 'eni-attach-z' };
      });

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(result.outcome).toBe('attached');
    expect(fake.ec2Mock).toHaveReceivedCommandTimes(AttachNetworkInterfaceCommand, 2);
    expect(clock.sleeps.length).toBe(1);
  });

  it('reports an instance type without room for another interface', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.maxEnisPerInstance = 1;

    // Act / Assess
    await expect(allocate({ instanceId }, pool, deps(), deadline())).rejects.toThrow(AttachmentLimitError);
  });

  it('reports an instance that has no network interface as not found', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    await expect(allocate({ instanceId: 'i-0123456789abcdef0' }, pool, deps(), deadline())).rejects.toThrow(
      InstanceNotFoundError,
    );
  });

  it('describes again while EC2 does not list a just-launched instance, then attaches (no ABANDON on one empty answer)', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A);
    fake.staleDescribes.set(instanceId, 3);

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess
    expect(result).toMatchObject({ outcome: 'attached', availabilityZone: AZ_A });
    expect(fake.attachedTo(instanceId)).toHaveLength(2);
  });

  it('reports not found only after the visibility window, not on the first empty answer', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const start = clock.now();
    await expect(allocate({ instanceId: 'i-0123456789abcdef0' }, pool, deps(), deadline())).rejects.toThrow(
      InstanceNotFoundError,
    );
    expect(clock.now() - start).toBeGreaterThanOrEqual(15_000);
    expect(clock.now() - start).toBeLessThanOrEqual(20_000);
  });

  it('after losing the device index to a concurrent delivery, waits for a stale Describe to show the winner', async () => {
    // Prepare: a rival delivery for the same instance attaches first; Describe then lags twice.
    const [mine, rival] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A);
    fake.beforeAttach = (id) => {
      fake.beforeAttach = undefined;
      const winner = id === mine!.id ? rival! : mine!;
      winner.attachment = {
        id: 'eni-attach-rival',
        instanceId,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: false,
      };
      fake.staleDescribes.set(instanceId, 2);
    };

    // Act
    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // Assess: the winner's ENI, no second ENI, no error.
    expect(result.outcome).toBe('already-held');
    expect(fake.attachedTo(instanceId)).toHaveLength(2);
  });

  it('fails retryably (never DeviceIndexTakenError / ABANDON) when Describe never shows who took the index', async () => {
    // Prepare
    const [mine, rival] = seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A);
    fake.beforeAttach = (id) => {
      fake.beforeAttach = undefined;
      const winner = id === mine!.id ? rival! : mine!;
      winner.attachment = {
        id: 'eni-attach-rival',
        instanceId,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: false,
      };
      fake.staleDescribes.set(instanceId, 1_000);
    };

    // Act / Assess
    const outcome = allocate({ instanceId }, pool, deps(), deadline());
    await expect(outcome).rejects.toThrow(RaceUnsettledError);
    await expect(outcome).rejects.not.toThrow(DeviceIndexTakenError);
  });

  it('rethrows errors it does not understand without retrying', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 1);
    const instanceId = fake.addInstance(AZ_A);
    fake.ec2Mock.on(AttachNetworkInterfaceCommand).rejects(awsError('UnauthorizedOperation'));
    await expect(allocate({ instanceId }, pool, deps(), deadline())).rejects.toMatchObject({
      name: 'UnauthorizedOperation',
    });
    expect(fake.ec2Mock).toHaveReceivedCommandTimes(AttachNetworkInterfaceCommand, 1);
  });
});

describe('release', () => {
  it('detaches the pool ENI of an instance and leaves other interfaces alone', async () => {
    // Prepare
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A);
    const { eni } = await allocate({ instanceId }, pool, deps(), deadline());

    // Act
    const result = await release(instanceId, pool, deps(), deadline());

    // Assess
    expect(result.map((e) => e.networkInterfaceId)).toEqual([eni.networkInterfaceId]);
    expect(fake.enis.get(eni.networkInterfaceId)?.attachment).toBeUndefined();
    expect(fake.attachedTo(instanceId)).toHaveLength(1); // the primary stays
  });

  it('does nothing for an instance without a pool ENI or that no longer exists', async () => {
    const instanceId = fake.addInstance(AZ_A);
    expect(await release(instanceId, pool, deps(), deadline())).toEqual([]);
    expect(await release('i-0000000000000dead', pool, deps(), deadline())).toEqual([]);
    expect(fake.calls.DetachNetworkInterface).toBeUndefined();
  });
});

describe('allocate: claim order across the launches of a group', () => {
  const GROUP = 'web';

  it('an uncontended launch takes the lowest free address although the group has other instances', async () => {
    // Prepare: two served members (holding .5 and .7), one old member without ENI past the window
    const enis = seedPool(fake, AZ_A, '10.0.0', 'server-a', 6);
    for (const [n, eni] of [enis[1]!, enis[3]!].entries()) {
      const holder = fake.addInstance(AZ_A, undefined, { group: GROUP });
      eni.attachment = {
        id: `eni-attach-h${n}`,
        instanceId: holder,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: false,
      };
    }
    fake.addInstance(AZ_A, undefined, { group: GROUP, launchTime: clock.now() - 3_600_000 });
    fake.addInstance(AZ_C, undefined, { group: GROUP }); // another AZ: not a contender here
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });

    // Act: Lambda mode (group known) and agent mode (group from the instance's tag)
    const result = await allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline());

    // Assess
    expect(result).toMatchObject({ outcome: 'attached', attempts: 1, collisions: 0 });
    expect(result.eni.privateIp).toBe('10.0.0.4');
    expect(fake.calls.DescribeInstances).toBe(1);
  });

  it('the agent (group unknown) reads the group from the instance tag and gets the same pick', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 3);
    const first = fake.addInstance(AZ_A, undefined, { group: GROUP });
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });

    const result = await allocate({ instanceId }, pool, deps(), deadline());

    // `first` launched earlier and waits too: it owns .4, so this launch takes .5 at once.
    expect(result).toMatchObject({ attempts: 1, collisions: 0 });
    expect(result.eni.privateIp).toBe('10.0.0.5');
    expect(fake.calls.DescribeInstances).toBe(2);
    expect(fake.attachedTo(first)).toHaveLength(1);
  });

  it('a burst of 40 concurrent launches in two AZs: one attach each, distinct ENIs, lowest addresses used', async () => {
    // Prepare: 20 launches per AZ (one launch time, like one scale-out), 24 ENIs per AZ
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 24);
    seedPool(fake, AZ_C, '10.0.1', 'server-c', 24);
    const at = clock.now();
    const instances = [...Array(40)].map((_, i) =>
      fake.addInstance(i % 2 ? AZ_C : AZ_A, undefined, { group: GROUP, launchTime: at }),
    );

    // Act
    const results = await Promise.all(
      instances.map((instanceId) =>
        allocate({ instanceId, groupName: GROUP }, pool, { ...deps(), random: Math.random }, deadline()),
      ),
    );

    // Assess
    expect(new Set(results.map((r) => r.eni.networkInterfaceId)).size).toBe(40);
    expect(fake.calls.AttachNetworkInterface).toBe(40);
    expect(results.every((r) => r.collisions === 0)).toBe(true);
    const taken = results
      .filter((r) => r.availabilityZone === AZ_A)
      .map((r) => Number(r.eni.privateIp.split('.')[3]));
    expect(taken.sort((x, y) => x - y)).toEqual([...Array(20)].map((_, i) => 4 + i));
  });

  it('a launch that did not see an earlier one loses once, lists the launches again and takes the next ENI', async () => {
    // Prepare: `hidden` launched first but EC2 does not list it to us at first
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 3);
    const hidden = fake.addInstance(AZ_A, undefined, { group: GROUP });
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });
    fake.staleDescribes.set(hidden, 1);
    fake.beforeAttach = (id) => {
      // `hidden` attaches the lowest ENI just before ours lands
      fake.beforeAttach = undefined;
      fake.enis.get(id)!.attachment = {
        id: 'eni-attach-hidden',
        instanceId: hidden,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: false,
      };
    };

    // Act
    const result = await allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline());

    // Assess
    expect(result).toMatchObject({ attempts: 2, collisions: 1 });
    expect(result.eni.privateIp).toBe('10.0.0.5');
    expect(fake.calls.DescribeInstances).toBe(2);
  });

  it('a redelivery racing the original agrees on the ENI and ends with one ENI, already held', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 4);
    fake.addInstance(AZ_A, undefined, { group: GROUP });
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });

    const [one, two] = await Promise.all([
      allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline()),
      allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline()),
    ]);

    expect(one.eni.networkInterfaceId).toBe(two.eni.networkInterfaceId);
    expect([one.outcome, two.outcome].sort()).toEqual(['already-held', 'attached']);
    expect(fake.attachedTo(instanceId).filter((e) => e.attachment?.deviceIndex === 1)).toHaveLength(1);
  });

  it('without ec2:DescribeInstances it still claims the lowest free address (roles from before the claim order)', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });
    fake.ec2Mock.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation'));

    const result = await allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline());

    expect(result).toMatchObject({ outcome: 'attached', attempts: 1 });
    expect(result.eni.privateIp).toBe('10.0.0.4');
  });

  it('refuses without attaching when the instance lists a non-pool interface at the device index', async () => {
    seedPool(fake, AZ_A, '10.0.0', 'server-a', 2);
    const instanceId = fake.addInstance(AZ_A, undefined, { group: GROUP });
    fake.addEni({
      ip: '10.0.9.9',
      az: AZ_A,
      subnetId: 's',
      tags: {},
      attachment: {
        id: 'eni-attach-x',
        instanceId,
        deviceIndex: 1,
        status: 'attached',
        deleteOnTermination: true,
      },
    });

    await expect(allocate({ instanceId, groupName: GROUP }, pool, deps(), deadline())).rejects.toThrow(
      DeviceIndexTakenError,
    );
    expect(fake.ec2Mock).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
  });
});
