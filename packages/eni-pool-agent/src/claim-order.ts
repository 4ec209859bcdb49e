// The claim order: which free pool ENI a launch tries to attach, given what it sees of the
// other launches in its Availability Zone. Pure: no AWS calls, randomness injected.
//
// Rule: the launches of the group in the AZ that hold no pool ENI yet ("unserved"), sorted by
// launch time then instance id, are matched in order with the free pool ENIs, sorted by private
// IP. A launch's pick is the free ENI at its own position among the unserved launches.
//   - Alone (the usual one-at-a-time launch) its position is 0: it takes the lowest free address.
//   - In a burst, every launch that sees the same launches picks a different ENI on its first try.
//   - The pairing survives the burst's progress: when an earlier launch is served it leaves the
//     unserved list and its ENI leaves the free list together, so every later launch's index
//     shifts by one on both sides and still points at the same ENI. A later launch being served
//     takes an ENI above ours and changes nothing below it. So two launches whose snapshots were
//     taken at different moments of the burst still agree.
//   - Launches that started after ours sort after it: they never change our pick.
//   - A redelivered event for the same instance computes the same pick, so the two deliveries
//     agree instead of fighting.
// When the view was wrong (a launch Describe did not list yet, an ENI freed meanwhile) the attach
// loses (InvalidNetworkInterface.InUse); the caller re-reads and, after repeated losses, spreads
// the pick over a window that doubles with each loss (see `claimPick`).

/** An instance of the group as the claim order sees it. */
export interface Launch {
  instanceId: string;
  /** EC2 LaunchTime in epoch milliseconds. */
  launchTime: number;
}

/** A pool ENI as the claim order sees it. */
export interface ClaimEni {
  networkInterfaceId: string;
  privateIp: string;
  status: string;
  attachment?: { instanceId?: string };
}

interface ClaimInput<E extends ClaimEni> {
  /** The launch choosing. */
  self: Launch;
  /**
   * The group's instances in the same AZ (pending or running), as listed; self may or may not
   * be among them. Instances launched more than `windowMs` before self are ignored: a launch
   * that old has either got its ENI or given up.
   */
  launches: readonly Launch[];
  /** Every pool ENI in the AZ, any status (the free ones and who holds the others). */
  pool: readonly E[];
  /** How far back a launch still counts as competing with self. */
  windowMs: number;
  /** Attaches this launch already lost to another instance. */
  collisions: number;
  /** Randomness in [0, 1), used only after two lost attaches. */
  random: () => number;
  /** Private IP order of two ENIs (numeric). */
  compare: (a: E, b: E) => number;
}

interface ClaimPick<E extends ClaimEni> {
  /** The free ENI to attach, or undefined when none is free. */
  pick: E | undefined;
  /** Self's position among the unserved launches (0: no earlier launch is waiting). */
  rank: number;
  /** Unserved launches seen (self included). */
  unserved: number;
  /** Free pool ENIs in the snapshot. */
  free: number;
}

/** Launch time, then instance id: the one order every launch agrees on. */
function byLaunch(a: Launch, b: Launch): number {
  return (
    a.launchTime - b.launchTime || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0)
  );
}

/**
 * Self's rank among the launches that hold no pool ENI in `pool`: how many such launches, within
 * the window, sort before self.
 */
export function unservedRank(
  self: Launch,
  launches: readonly Launch[],
  pool: readonly ClaimEni[],
  windowMs: number,
): { rank: number; unserved: number } {
  const holders = new Set(pool.map((eni) => eni.attachment?.instanceId));
  const since = self.launchTime - windowMs;
  let rank = 0;
  let unserved = 1;
  const seen = new Set<string>([self.instanceId]);
  for (const launch of launches) {
    if (seen.has(launch.instanceId)) continue;
    seen.add(launch.instanceId);
    if (holders.has(launch.instanceId) || launch.launchTime < since) continue;
    unserved++;
    if (byLaunch(launch, self) < 0) rank++;
  }
  return { rank, unserved };
}

/**
 * The free ENI to try. First and second try: the free ENI at self's rank (wrapping when more
 * launches wait than ENIs are free). From the third try on (two lost attaches: the view was
 * wrong twice) a random one of the 2^(collisions-1) free ENIs from that position on, so launches
 * that keep colliding stop choosing the same one.
 */
export function claimPick<E extends ClaimEni>(input: ClaimInput<E>): ClaimPick<E> {
  const free = input.pool.filter((e) => e.status === 'available').sort(input.compare);
  const { rank, unserved } = unservedRank(input.self, input.launches, input.pool, input.windowMs);
  if (free.length === 0) return { pick: undefined, rank, unserved, free: 0 };
  let offset = 0;
  if (input.collisions >= 2) {
    const window = Math.min(free.length, 2 ** (input.collisions - 1));
    offset = Math.min(window - 1, Math.floor(input.random() * window));
  }
  return { pick: free[(rank + offset) % free.length], rank, unserved, free: free.length };
}
