import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { AssociateAddressCommand, DisassociateAddressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DeadlineExceededError,
  describeError,
  isAwsError,
  isNotFoundError,
  isTransientError,
} from '@netkit/aws-core/errors';
import {
  type CompletionOutcome,
  completeLifecycleAction,
  type HeartbeatKeeper,
  isNoActiveLifecycleAction,
  type LifecycleAction,
  type LifecycleResult,
  recordLifecycleHeartbeat,
  startHeartbeat,
} from '@netkit/aws-core/lifecycle';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, type Deadline, pollUntil, retry, systemClock } from '@netkit/aws-core/retry';
import { primaryInterfaceId } from './instance.ts';
import { candidateOrder, describeHeldBy, describePool, type PoolAddress, type PoolSnapshot } from './pool.ts';

export interface AssociatorDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock?: Clock;
  /** Randomness for backoff jitter; injectable for tests. */
  random?: () => number;
}

export interface LaunchOptions {
  poolTags: Record<string, string>;
  /** Stop trying (and complete ABANDON) when this passes. */
  deadline: Deadline;
  /** Hard limit for the final CompleteLifecycleAction (Lambda end, minus a little). */
  completeDeadline: Deadline;
  heartbeatIntervalMs: number;
}

/** What the pool looked like last time this invocation described it. */
export interface PoolStats {
  size: number;
  free: number;
  /** True when this launch found no free EIP at some point (it had to wait or gave up). */
  exhausted: boolean;
}

export type LaunchOutcome =
  | {
      status: 'associated';
      instanceId: string;
      allocationId: string;
      publicIp: string | undefined;
      /** AssociateAddress calls made (1 unless another launch took a candidate first). */
      attempts: number;
      pool: PoolStats;
      completion: CompletionOutcome;
    }
  | {
      status: 'already-associated';
      instanceId: string;
      allocationId: string;
      publicIp: string | undefined;
      attempts: number;
      pool: PoolStats;
      completion: CompletionOutcome;
    }
  | {
      /** The lifecycle action was already completed, abandoned or timed out: nothing was associated. */
      status: 'inactive';
      instanceId: string;
      attempts: number;
      pool: PoolStats;
      completion: 'already-completed';
    }
  | {
      status: 'abandoned';
      instanceId: string;
      reason: string;
      attempts: number;
      pool: PoolStats;
      completion: CompletionOutcome;
    };

export interface TerminateOutcome {
  status: 'released';
  instanceId: string;
  /** Allocation ids disassociated from the instance by this call. */
  released: string[];
  pool: PoolStats;
  completion: CompletionOutcome;
}

const CALL_BACKOFF = { baseMs: 250, maxMs: 5_000 } as const;
const EMPTY_POOL_BACKOFF = { baseMs: 1_000, maxMs: 15_000 } as const;
/**
 * After losing a candidate, wait a random 0..min(max, base * 2^collisions) ms ("full jitter")
 * before describing again, so that the losers of a burst do not all re-describe the same
 * snapshot and collide again among themselves.
 */
const COLLISION_JITTER = { baseMs: 250, maxMs: 2_000 } as const;

export function collisionDelay(collisions: number, random: () => number = Math.random): number {
  const cap = Math.min(COLLISION_JITTER.maxMs, COLLISION_JITTER.baseMs * 2 ** Math.max(0, collisions - 1));
  return Math.round(random() * cap);
}

/** Errors worth another try of the same AssociateAddress: throttling, and a new instance EC2 does not fully know yet. */
function associateRetryable(error: unknown): boolean {
  return isTransientError(error) || isAwsError(error, 'IncorrectInstanceState', 'InvalidInstanceID.NotFound');
}

/** Another launch took the candidate first, or it was released since we described the pool. */
function candidateGone(error: unknown): boolean {
  return isAwsError(error, 'Resource.AlreadyAssociated', 'InvalidAllocationID.NotFound');
}

type Step =
  | { kind: 'held'; address: PoolAddress; mine: boolean }
  | { kind: 'inactive' }
  | { kind: 'collision' }
  | { kind: 'empty' }
  | { kind: 'not-visible' };

function stats(pool: PoolSnapshot | undefined, exhausted: boolean, taken = 0): PoolStats {
  return {
    size: pool?.addresses.length ?? 0,
    free: Math.max(0, (pool?.free.length ?? 0) - taken),
    exhausted,
  };
}

/**
 * Launch: make sure `action.instanceId` holds exactly one pool EIP, then complete the
 * lifecycle action CONTINUE; complete ABANDON when no EIP could be had by the deadline.
 *
 * Per attempt: one filtered DescribeAddresses (which also detects a redelivered event:
 * the instance already holds a pool EIP), one AssociateAddress(AllowReassociation=false)
 * on a candidate chosen by a per-instance permutation, and one read-back
 * (DescribeAddresses filtered by instance id). When another launch wins the candidate,
 * the pool is described again (a cheap non-mutating call) rather than trying stale
 * candidates one after another.
 */
export async function associateOnLaunch(
  action: LifecycleAction,
  deps: AssociatorDeps,
  options: LaunchOptions,
): Promise<LaunchOutcome> {
  const { ec2, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const { deadline, poolTags } = options;
  const log = { instanceId: action.instanceId, groupName: action.groupName };
  const call = <T>(fn: () => Promise<T>, retryable: (e: unknown) => boolean = isTransientError) =>
    retry(fn, {
      ...CALL_BACKOFF,
      retryable,
      deadline,
      clock,
      ...(deps.random ? { random: deps.random } : {}),
      onRetry: (error, attempt, delayMs) =>
        logger.debug('Retrying EC2 call', { ...log, error: describeError(error), attempt, delayMs }),
    });

  let pool: PoolSnapshot | undefined;
  let attempts = 0;
  let collisions = 0;
  let exhausted = false;
  let keeper: HeartbeatKeeper | undefined;
  let activeChecked = false;
  /** The instance's primary interface (device index 0): the association target. */
  let primaryEni: string | undefined;
  let notVisible = false;
  /** An association made but not yet read back: undone if the launch is abandoned. */
  let unconfirmed: { allocationId: string; associationId: string | undefined } | undefined;

  const step = async (): Promise<Step> => {
    pool = await call(() => describePool(ec2, poolTags));
    const current = pool;
    const held = current.addresses.find((a) => a.instanceId === action.instanceId);
    if (held) return { kind: 'held', address: held, mine: false };
    const [candidate] = candidateOrder(current.free, action.instanceId);
    if (!candidate) return { kind: 'empty' };
    if (!activeChecked) {
      // A late redelivery (Lambda retry, EventBridge retry) of a launch that was already
      // abandoned or timed out must not take an EIP for an instance that is going away. A
      // heartbeat is the one call that tells: it fails with "No active Lifecycle Action found".
      activeChecked = true;
      try {
        await call(() => recordLifecycleHeartbeat(deps.autoscaling, action));
      } catch (error) {
        if (isNoActiveLifecycleAction(error)) return { kind: 'inactive' };
        throw error;
      }
    }
    if (primaryEni === undefined) {
      primaryEni = await call(() => primaryInterfaceId(ec2, action.instanceId));
      // Eventual consistency: a just-launched instance's interfaces may not be listed yet.
      if (primaryEni === undefined) return { kind: 'not-visible' };
    }
    const networkInterfaceId = primaryEni;
    attempts++;
    try {
      const out = await call(
        () =>
          ec2.send(
            new AssociateAddressCommand({
              AllocationId: candidate.allocationId,
              NetworkInterfaceId: networkInterfaceId,
              AllowReassociation: false,
            }),
          ),
        associateRetryable,
      );
      unconfirmed = { allocationId: candidate.allocationId, associationId: out.AssociationId };
    } catch (error) {
      if (!candidateGone(error)) throw error;
      collisions++;
      logger.debug('Candidate EIP was taken by another launch; describing the pool again', {
        ...log,
        allocationId: candidate.allocationId,
        error: describeError(error),
      });
      return { kind: 'collision' };
    }
    // Read back: association is eventually consistent, and a second association to the same
    // instance (a concurrent duplicate delivery) replaces the first on its primary address.
    const holding = await call(() => describeHeldBy(ec2, poolTags, action.instanceId));
    unconfirmed = undefined;
    const mine = holding.find((a) => a.allocationId === candidate.allocationId);
    if (mine) return { kind: 'held', address: mine, mine: true };
    const other = holding[0];
    if (other) return { kind: 'held', address: other, mine: false };
    collisions++;
    logger.warn('Association was not confirmed by the read-back; trying another EIP', {
      ...log,
      allocationId: candidate.allocationId,
    });
    return { kind: 'collision' };
  };

  const complete = async (result: LifecycleResult): Promise<CompletionOutcome> =>
    retry(() => completeLifecycleAction(deps.autoscaling, action, result, logger), {
      ...CALL_BACKOFF,
      retryable: isTransientError,
      deadline: options.completeDeadline,
      clock,
      ...(deps.random ? { random: deps.random } : {}),
    });

  const abandon = async (reason: string): Promise<LaunchOutcome> => {
    const poolStats = stats(pool, exhausted);
    logger.error('Could not give the instance a pool EIP; completing ABANDON', {
      ...log,
      reason,
      poolSize: poolStats.size,
      poolFree: poolStats.free,
      attempts,
      collisions,
    });
    if (unconfirmed?.associationId !== undefined) {
      // Associated, but the read-back never answered: do not leave the EIP on an abandoned instance.
      const { associationId, allocationId } = unconfirmed;
      try {
        await retry(() => ec2.send(new DisassociateAddressCommand({ AssociationId: associationId })), {
          ...CALL_BACKOFF,
          retryable: isTransientError,
          deadline: options.completeDeadline,
          clock,
          ...(deps.random ? { random: deps.random } : {}),
        });
        logger.warn('Undid the unconfirmed association before abandoning', { ...log, allocationId });
      } catch (error) {
        if (!isNotFoundError(error)) {
          logger.error(
            'Could not undo the unconfirmed association; EC2 frees it when the instance terminates',
            {
              ...log,
              allocationId,
              error: describeError(error),
            },
          );
        }
      }
    }
    const completion = await complete('ABANDON');
    return {
      status: 'abandoned',
      instanceId: action.instanceId,
      reason,
      attempts,
      pool: poolStats,
      completion,
    };
  };

  let held: Extract<Step, { kind: 'held' | 'inactive' }>;
  try {
    held = await pollUntil(
      async () => {
        // Collisions are retried after a short jittered delay (bounded by the pool size and the
        // deadline); an empty pool waits with pollUntil's backoff.
        for (let tries = 0; ; tries++) {
          // The hook timed out (or another delivery completed the action) while we waited: stop.
          if (keeper?.ended) return { kind: 'inactive' } as const;
          const result = await step();
          if (result.kind === 'held' || result.kind === 'inactive') return result;
          if (result.kind === 'empty') {
            exhausted = true;
            return undefined;
          }
          if (result.kind === 'not-visible') {
            notVisible = true;
            return undefined;
          }
          if (deadline.expired() || tries > (pool?.addresses.length ?? 0)) return undefined;
          const delay = Math.min(collisionDelay(collisions, deps.random), deadline.remaining());
          if (delay > 0) await clock.sleep(delay);
        }
      },
      {
        ...EMPTY_POOL_BACKOFF,
        deadline,
        clock,
        what: `a free EIP in the pool ${JSON.stringify(poolTags)}`,
        ...(deps.random ? { random: deps.random } : {}),
        onWait: (waits, delayMs) => {
          if (primaryEni === undefined && notVisible) {
            logger.debug('Primary network interface not listed yet; describing again', {
              ...log,
              waits,
              delayMs,
            });
            return;
          }
          if (keeper === undefined) {
            logger.warn('No free EIP in the pool; waiting for one', {
              ...log,
              poolSize: pool?.addresses.length ?? 0,
              poolFree: pool?.free.length ?? 0,
            });
            keeper = startHeartbeat(deps.autoscaling, action, {
              intervalMs: options.heartbeatIntervalMs,
              clock,
              logger,
            });
          }
          logger.debug('Waiting for a free EIP', { ...log, waits, delayMs });
        },
      },
    );
  } catch (error) {
    if (error instanceof DeadlineExceededError) {
      if (primaryEni === undefined && notVisible) {
        return abandon(
          `EC2 did not list the primary network interface of ${action.instanceId} before the deadline (terminated?)`,
        );
      }
      return abandon(exhausted ? 'no free EIP in the pool before the deadline' : error.message);
    }
    // `retry` gives up on a retryable error only when the next wait would pass the deadline.
    if (associateRetryable(error)) {
      return abandon(`still failing at the deadline: ${describeError(error)}`);
    }
    throw error;
  } finally {
    await keeper?.stop();
  }

  if (held.kind === 'inactive') {
    logger.warn(
      'Lifecycle action is no longer active (completed, abandoned or timed out); not associating',
      log,
    );
    return {
      status: 'inactive',
      instanceId: action.instanceId,
      attempts,
      pool: stats(pool, exhausted),
      completion: 'already-completed',
    };
  }
  const completion = await complete('CONTINUE');
  // The snapshot was taken before our association: one fewer is free now.
  const poolStats = stats(pool, exhausted, held.mine ? 1 : 0);
  if (held.mine) {
    logger.info('Associated pool EIP', {
      ...log,
      allocationId: held.address.allocationId,
      publicIp: held.address.publicIp,
      attempts,
      collisions,
      poolSize: poolStats.size,
      poolFree: poolStats.free,
    });
    return {
      status: 'associated',
      instanceId: action.instanceId,
      allocationId: held.address.allocationId,
      publicIp: held.address.publicIp,
      attempts,
      pool: poolStats,
      completion,
    };
  }
  logger.info('Instance already holds a pool EIP; nothing to do', {
    ...log,
    allocationId: held.address.allocationId,
    publicIp: held.address.publicIp,
  });
  return {
    status: 'already-associated',
    instanceId: action.instanceId,
    allocationId: held.address.allocationId,
    publicIp: held.address.publicIp,
    attempts,
    pool: poolStats,
    completion,
  };
}

/**
 * Terminate: disassociate the instance's pool EIPs early, so that a replacement launch can
 * take them, then complete CONTINUE. Redelivery finds nothing to release and completes again.
 */
export async function releaseOnTerminate(
  action: LifecycleAction,
  deps: AssociatorDeps,
  options: Pick<LaunchOptions, 'poolTags' | 'deadline' | 'completeDeadline'>,
): Promise<TerminateOutcome> {
  const { ec2, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const base = {
    ...CALL_BACKOFF,
    retryable: isTransientError,
    clock,
    ...(deps.random ? { random: deps.random } : {}),
  };
  const log = { instanceId: action.instanceId, groupName: action.groupName };
  const pool = await retry(() => describePool(ec2, options.poolTags), {
    ...base,
    deadline: options.deadline,
  });
  const held = pool.addresses.filter((a) => a.instanceId === action.instanceId);
  const released: string[] = [];
  for (const address of held) {
    if (address.associationId === undefined) continue;
    const associationId = address.associationId;
    try {
      await retry(() => ec2.send(new DisassociateAddressCommand({ AssociationId: associationId })), {
        ...base,
        deadline: options.deadline,
      });
      released.push(address.allocationId);
    } catch (error) {
      // Already disassociated (a concurrent duplicate, or the instance is gone): nothing to undo.
      if (!isNotFoundError(error)) throw error;
    }
  }
  if (released.length > 0) {
    logger.info('Released pool EIP from terminating instance', { ...log, released });
  } else {
    logger.info('Terminating instance holds no pool EIP; nothing to release', log);
  }
  const completion = await retry(
    () => completeLifecycleAction(deps.autoscaling, action, 'CONTINUE', logger),
    {
      ...base,
      deadline: options.completeDeadline,
    },
  );
  return {
    status: 'released',
    instanceId: action.instanceId,
    released,
    pool: {
      size: pool.addresses.length,
      free: pool.free.length + released.length,
      exhausted: false,
    },
    completion,
  };
}
