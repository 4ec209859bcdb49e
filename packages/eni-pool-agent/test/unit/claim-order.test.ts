import { describe, expect, it } from 'vitest';
import { type ClaimEni, claimPick, type Launch, unservedRank } from '../../src/claim-order.ts';
import { compareIps } from '../../src/ip.ts';

const T0 = Date.UTC(2026, 10, 28, 12);
const WINDOW = 15 * 60_000;
const compare = (a: ClaimEni, b: ClaimEni) => compareIps(a.privateIp, b.privateIp);

function poolOf(count: number, holders: Record<number, string> = {}): ClaimEni[] {
  return [...Array(count)].map((_, i) => {
    const holder = holders[i];
    return {
      networkInterfaceId: `eni-${String(i).padStart(3, '0')}`,
      privateIp: `10.0.0.${4 + i}`,
      status: holder === undefined ? 'available' : 'in-use',
      ...(holder === undefined ? {} : { attachment: { instanceId: holder } }),
    };
  });
}

function launchesOf(count: number, at = T0): Launch[] {
  return [...Array(count)].map((_, i) => ({ instanceId: `i-${String(i).padStart(3, '0')}`, launchTime: at }));
}

const pick = (self: Launch, launches: Launch[], pool: ClaimEni[], collisions = 0, random = () => 0) =>
  claimPick({ self, launches, pool, windowMs: WINDOW, collisions, random, compare });

describe('claim order', () => {
  it('a launch alone takes the lowest free address (numeric order), whatever its id', () => {
    const pool = poolOf(12, { 0: 'i-old' }).reverse();
    for (const id of ['i-0', 'i-zzzz', 'i-0123456789abcdef0']) {
      const self = { instanceId: id, launchTime: T0 };
      expect(pick(self, [self], pool)).toMatchObject({
        rank: 0,
        unserved: 1,
        pick: { privateIp: '10.0.0.5' },
      });
      // Not listed yet (eventual consistency) is the same as alone.
      expect(pick(self, [], pool).pick?.privateIp).toBe('10.0.0.5');
    }
  });

  it('served instances, instances past the window and later launches do not move an uncontended pick', () => {
    const self = { instanceId: 'i-m', launchTime: T0 };
    const launches = [
      { instanceId: 'i-served', launchTime: T0 - 1_000 }, // holds a pool ENI
      { instanceId: 'i-stale', launchTime: T0 - WINDOW - 1 }, // gave up long ago
      { instanceId: 'i-later', launchTime: T0 + 1 }, // launched after self
      { instanceId: 'i-a', launchTime: T0 }, // same launch time, id before self
      self,
    ];
    const pool = poolOf(6, { 2: 'i-served' });
    expect(unservedRank(self, launches, pool, WINDOW)).toEqual({ rank: 1, unserved: 3 });
    expect(unservedRank(self, launches.slice(0, 3).concat(self), pool, WINDOW)).toEqual({
      rank: 0,
      unserved: 2,
    });
    expect(pick(self, launches.slice(0, 3).concat(self), pool).pick?.privateIp).toBe('10.0.0.4');
  });

  it('gives every launch of a burst that sees the same launches a different ENI on the first try', () => {
    const launches = launchesOf(200);
    const pool = poolOf(200);
    const picks = launches.map((self) => pick(self, [...launches].reverse(), pool).pick?.networkInterfaceId);
    expect(new Set(picks).size).toBe(200);
    expect(picks[0]).toBe('eni-000'); // the first launch still takes the lowest
  });

  it('keeps the pairing while the burst progresses: snapshots taken at different moments agree', () => {
    // Launches served in a random order; each unserved launch re-reads at random moments.
    const launches = launchesOf(50);
    let state = 7;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const pool = poolOf(60);
    const holders: Record<number, string> = {};
    const firstPick = new Map(
      launches.map((l) => [l.instanceId, pick(l, launches, pool).pick?.networkInterfaceId]),
    );
    const waiting = [...launches];
    while (waiting.length > 0) {
      const [next] = waiting.splice(Math.floor(random() * waiting.length), 1);
      const snapshot = poolOf(60, holders);
      const now = pick(next!, launches, snapshot).pick!;
      expect(now.networkInterfaceId).toBe(firstPick.get(next!.instanceId));
      expect(now.status).toBe('available');
      holders[Number(now.networkInterfaceId.slice(4))] = next!.instanceId;
    }
  });

  it('a launch that missed an earlier one collides at most once per missed launch, never with a later one', () => {
    const launches = launchesOf(3);
    const [a, b, c] = launches as [Launch, Launch, Launch];
    const pool = poolOf(3);
    // c did not see b: both aim at the same ENI.
    expect(pick(c, [a, c], pool).pick?.networkInterfaceId).toBe(
      pick(b, launches, pool).pick?.networkInterfaceId,
    );
    // b does not need to see c to keep its pick.
    expect(pick(b, [a, b], pool).pick?.networkInterfaceId).toBe(
      pick(b, launches, pool).pick?.networkInterfaceId,
    );
  });

  it('wraps when more launches wait than ENIs are free, and spreads only from the second lost attach', () => {
    const launches = launchesOf(5);
    const pool = poolOf(3);
    expect(pick(launches[4]!, launches, pool).pick?.privateIp).toBe('10.0.0.5'); // rank 4 of 3 free
    expect(pick(launches[0]!, launches, pool, 1, () => 0.99).pick?.privateIp).toBe('10.0.0.4');
    expect(pick(launches[0]!, launches, pool, 2, () => 0.99).pick?.privateIp).toBe('10.0.0.5');
    expect(pick(launches[0]!, launches, pool, 3, () => 0.99).pick?.privateIp).toBe('10.0.0.6');
    expect(pick(launches[0]!, launches, poolOf(2, { 0: 'x', 1: 'y' }))).toMatchObject({
      pick: undefined,
      free: 0,
    });
  });
});
