// The launch algorithm before ADR 0085, kept as the benchmark's "previous" row so that one run
// measures both: it describes the instance's interfaces on every launch and associates by the
// primary interface's id. Not used by the package. Terminate is the package's own.
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { AssociateAddressCommand, DisassociateAddressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DeadlineExceededError, describeError, isNotFoundError } from '@netkit/aws-core/errors';
import {
  type CompletionOutcome,
  completeLifecycleAction,
  HeartbeatKeeper,
  isNoActiveLifecycleAction,
  type LifecycleAction,
  type LifecycleResult,
  recordLifecycleHeartbeat,
} from '@netkit/aws-core/lifecycle';
import type { Logger } from '@netkit/aws-core/observability';
import {
  awsCall,
  type Clock,
  collisionDelay,
  type Deadline,
  pollUntil,
  systemClock,
} from '@netkit/aws-core/retry';
import { ASSOCIATE_TRANSIENT, isAssociateTransient, isCandidateGone } from '../src/errors.ts';
import { primaryInterfaceId } from '../src/instance.ts';
import {
  candidateOrder,
  describeHeldBy,
  describePool,
  type PoolAddress,
  type PoolSnapshot,
} from '../src/pool.ts';

interface AssociatorDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock?: Clock;
  /** Randomness for backoff jitter; injectable for tests. */
  random?: () => number;
}

interface LaunchOptions {
  poolTags: Record<string, string>;
  /** Stop trying (and complete ABANDON) when this passes. */
  deadline: Deadline;
  /** Hard limit for the final CompleteLifecycleAction (Lambda end, minus a little). */
  completeDeadline: Deadline;
  heartbeatIntervalMs: number;
}

/** What the pool looked like last time this invocation described it. */
interface PoolStats {
  size: number;
  free: number;
  /** True when this launch found no free EIP at some point (it had to wait or gave up). */
  exhausted: boolean;
}

/** What a launch that holds its EIP reports. */
interface Associated {
  instanceId: string;
  allocationId: string;
  publicIp: string | undefined;
  /** AssociateAddress calls made (1 unless another launch took a candidate first). */
  attempts: number;
  pool: PoolStats;
  completion: CompletionOutcome;
}

type LaunchOutcome =
  /** This invocation associated `allocationId` and completed CONTINUE. */
  | ({ status: 'done' } & Associated)
  /** The instance already held `allocationId` (a redelivery or a concurrent duplicate): completed CONTINUE. */
  | ({ status: 'already-done' } & Associated)
  | {
      /** The lifecycle action was already completed, abandoned or timed out: nothing was associated. */
      status: 'ended';
      instanceId: string;
      reason: string;
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

const CALL_BACKOFF = { baseMs: 250, maxMs: 5_000 } as const;
const EMPTY_POOL_BACKOFF = { baseMs: 1_000, maxMs: 15_000 } as const;

type Step =
  | { kind: 'held'; address: PoolAddress; mine: boolean }
  | { kind: 'inactive' }
  | { kind: 'collision' }
  | { kind: 'empty' }
  | { kind: 'not-visible' };

type Settled = Extract<Step, { kind: 'held' | 'inactive' }>;

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
  return new Launch(action, deps, options).run();
}

/** One launch's association, step by step; the fields are what the steps learn on the way. */
class Launch {
  private readonly log: { instanceId: string; groupName: string };
  private readonly clock: Clock;
  private pool: PoolSnapshot | undefined;
  private attempts = 0;
  private collisions = 0;
  private exhausted = false;
  private keeper: HeartbeatKeeper | undefined;
  private activeChecked = false;
  /** The instance's primary interface (device index 0): the association target. */
  private primaryEni: string | undefined;
  private notVisible = false;
  /** An association made but not yet read back: undone if the launch is abandoned. */
  private unconfirmed: { allocationId: string; associationId: string | undefined } | undefined;

  constructor(
    private readonly action: LifecycleAction,
    private readonly deps: AssociatorDeps,
    private readonly options: LaunchOptions,
  ) {
    this.log = { instanceId: action.instanceId, groupName: action.groupName };
    this.clock = deps.clock ?? systemClock;
  }

  async run(): Promise<LaunchOutcome> {
    const settled = await this.settle();
    if ('status' in settled) return settled;
    return settled.kind === 'inactive' ? this.inactive() : this.finish(settled);
  }

  /** An AWS call retried on transient errors (and the call's own `transient` names) until the deadline. */
  private call<T>(fn: () => Promise<T>, transient: readonly string[] = [], deadline = this.options.deadline) {
    const { random, logger } = this.deps;
    return awsCall('EC2 call', fn, {
      ...CALL_BACKOFF,
      transient,
      deadline,
      clock: this.clock,
      random,
      logger,
    });
  }

  /** Try until the instance holds a pool EIP or the action is over; abandon at the deadline. */
  private async settle(): Promise<Settled | LaunchOutcome> {
    const { deadline, poolTags } = this.options;
    try {
      return await pollUntil(() => this.tryCandidates(), {
        ...EMPTY_POOL_BACKOFF,
        deadline,
        clock: this.clock,
        what: `a free EIP in the pool ${JSON.stringify(poolTags)}`,
        ...(this.deps.random ? { random: this.deps.random } : {}),
        onWait: (waits, delayMs) => this.onWait(waits, delayMs),
      });
    } catch (error) {
      if (error instanceof DeadlineExceededError) {
        if (this.primaryEni === undefined && this.notVisible) {
          return this.abandon(
            `EC2 did not list the primary network interface of ${this.action.instanceId} before the deadline (terminated?)`,
          );
        }
        return this.abandon(this.exhausted ? 'no free EIP in the pool before the deadline' : error.message);
      }
      // `awsCall` gives up on a retryable error only when the next wait would pass the deadline.
      if (isAssociateTransient(error)) {
        return this.abandon(`still failing at the deadline: ${describeError(error)}`);
      }
      throw error;
    }
  }

  /**
   * One poll: collisions are retried after a short jittered delay (bounded by the pool size and
   * the deadline); an empty pool or an interface not listed yet returns undefined, so pollUntil
   * waits with its backoff.
   */
  private async tryCandidates(): Promise<Settled | undefined> {
    const { deadline } = this.options;
    for (let tries = 0; ; tries++) {
      // The hook timed out (or another delivery completed the action) while we waited: stop.
      if (this.keeper?.ended) return { kind: 'inactive' };
      const result = await this.step();
      if (result.kind === 'held' || result.kind === 'inactive') return result;
      if (result.kind === 'empty') {
        this.exhausted = true;
        return undefined;
      }
      if (result.kind === 'not-visible') {
        this.notVisible = true;
        return undefined;
      }
      if (deadline.expired() || tries > (this.pool?.addresses.length ?? 0)) return undefined;
      const delay = Math.min(collisionDelay(this.collisions, this.deps.random), deadline.remaining());
      if (delay > 0) await this.clock.sleep(delay);
    }
  }

  private async onWait(waits: number, delayMs: number): Promise<void> {
    const { logger } = this.deps;
    if (this.primaryEni === undefined && this.notVisible) {
      logger.debug('Primary network interface not listed yet; describing again', {
        ...this.log,
        waits,
        delayMs,
      });
      return;
    }
    if (this.keeper === undefined) {
      logger.warn('No free EIP in the pool; waiting for one', {
        ...this.log,
        poolSize: this.pool?.addresses.length ?? 0,
        poolFree: this.pool?.free.length ?? 0,
      });
      this.keeper = new HeartbeatKeeper(this.deps.autoscaling, this.action, {
        intervalMs: this.options.heartbeatIntervalMs,
        clock: this.clock,
        logger,
      });
    }
    logger.debug('Waiting for a free EIP', { ...this.log, waits, delayMs });
    // Once the action is over, `keeper.ended` stops the next poll.
    await this.keeper.beatIfDue().catch(() => undefined);
  }

  /** Describe the pool, then associate a candidate and read the association back. */
  private async step(): Promise<Step> {
    const pool = await this.call(() => describePool(this.deps.ec2, this.options.poolTags));
    this.pool = pool;
    const held = pool.addresses.find((a) => a.instanceId === this.action.instanceId);
    if (held) return { kind: 'held', address: held, mine: false };
    const [candidate] = candidateOrder(pool.free, this.action.instanceId);
    if (!candidate) return { kind: 'empty' };
    if (!(await this.stillActive())) return { kind: 'inactive' };
    if (this.primaryEni === undefined) {
      this.primaryEni = await this.call(() => primaryInterfaceId(this.deps.ec2, this.action.instanceId));
      // Eventual consistency: a just-launched instance's interfaces may not be listed yet.
      if (this.primaryEni === undefined) return { kind: 'not-visible' };
    }
    if (!(await this.associate(candidate, this.primaryEni))) return { kind: 'collision' };
    return this.readBack(candidate);
  }

  /**
   * A late redelivery (Lambda retry, EventBridge retry) of a launch that was already abandoned or
   * timed out must not take an EIP for an instance that is going away. A heartbeat is the one call
   * that tells: it fails with "No active Lifecycle Action found". Checked once per invocation.
   */
  private async stillActive(): Promise<boolean> {
    if (this.activeChecked) return true;
    this.activeChecked = true;
    try {
      await this.call(() => recordLifecycleHeartbeat(this.deps.autoscaling, this.action));
      return true;
    } catch (error) {
      if (isNoActiveLifecycleAction(error)) return false;
      throw error;
    }
  }

  /** AssociateAddress without reassociation; false when another launch took the candidate first. */
  private async associate(candidate: PoolAddress, networkInterfaceId: string): Promise<boolean> {
    this.attempts++;
    try {
      const out = await this.call(
        () =>
          this.deps.ec2.send(
            new AssociateAddressCommand({
              AllocationId: candidate.allocationId,
              NetworkInterfaceId: networkInterfaceId,
              AllowReassociation: false,
            }),
          ),
        ASSOCIATE_TRANSIENT,
      );
      this.unconfirmed = { allocationId: candidate.allocationId, associationId: out.AssociationId };
      return true;
    } catch (error) {
      if (!isCandidateGone(error)) throw error;
      this.collisions++;
      this.deps.logger.debug('Candidate EIP was taken by another launch; describing the pool again', {
        ...this.log,
        allocationId: candidate.allocationId,
        error: describeError(error),
      });
      return false;
    }
  }

  /**
   * Read back: association is eventually consistent, and a second association to the same
   * instance (a concurrent duplicate delivery) replaces the first on its primary address.
   */
  private async readBack(candidate: PoolAddress): Promise<Step> {
    const holding = await this.call(() =>
      describeHeldBy(this.deps.ec2, this.options.poolTags, this.action.instanceId),
    );
    this.unconfirmed = undefined;
    const mine = holding.find((a) => a.allocationId === candidate.allocationId);
    if (mine) return { kind: 'held', address: mine, mine: true };
    const other = holding[0];
    if (other) return { kind: 'held', address: other, mine: false };
    this.collisions++;
    this.deps.logger.warn('Association was not confirmed by the read-back; trying another EIP', {
      ...this.log,
      allocationId: candidate.allocationId,
    });
    return { kind: 'collision' };
  }

  private complete(result: LifecycleResult): Promise<CompletionOutcome> {
    return awsCall(
      'CompleteLifecycleAction',
      () => completeLifecycleAction(this.deps.autoscaling, this.action, result, this.deps.logger),
      {
        ...CALL_BACKOFF,
        deadline: this.options.completeDeadline,
        clock: this.clock,
        random: this.deps.random,
      },
    );
  }

  private async abandon(reason: string): Promise<LaunchOutcome> {
    const poolStats = stats(this.pool, this.exhausted);
    this.deps.logger.error('Could not give the instance a pool EIP; completing ABANDON', {
      ...this.log,
      reason,
      poolSize: poolStats.size,
      poolFree: poolStats.free,
      attempts: this.attempts,
      collisions: this.collisions,
    });
    await this.undoUnconfirmed();
    const completion = await this.complete('ABANDON');
    return {
      status: 'abandoned',
      instanceId: this.action.instanceId,
      reason,
      attempts: this.attempts,
      pool: poolStats,
      completion,
    };
  }

  /** Associated, but the read-back never answered: do not leave the EIP on an abandoned instance. */
  private async undoUnconfirmed(): Promise<void> {
    if (this.unconfirmed?.associationId === undefined) return;
    const { associationId, allocationId } = this.unconfirmed;
    const { logger } = this.deps;
    try {
      await awsCall(
        'DisassociateAddress',
        () => this.deps.ec2.send(new DisassociateAddressCommand({ AssociationId: associationId })),
        {
          ...CALL_BACKOFF,
          deadline: this.options.completeDeadline,
          clock: this.clock,
          random: this.deps.random,
        },
      );
      logger.warn('Undid the unconfirmed association before abandoning', { ...this.log, allocationId });
    } catch (error) {
      if (!isNotFoundError(error)) {
        logger.error(
          'Could not undo the unconfirmed association; EC2 frees it when the instance terminates',
          {
            ...this.log,
            allocationId,
            error: describeError(error),
          },
        );
      }
    }
  }

  private inactive(): LaunchOutcome {
    this.deps.logger.warn(
      'Lifecycle action is no longer active (completed, abandoned or timed out); not associating',
      this.log,
    );
    return {
      status: 'ended',
      instanceId: this.action.instanceId,
      reason:
        'the lifecycle action is not active (completed, abandoned or timed out); nothing was associated',
      attempts: this.attempts,
      pool: stats(this.pool, this.exhausted),
      completion: 'already-completed',
    };
  }

  /** The instance holds a pool EIP: complete CONTINUE and say whether this invocation associated it. */
  private async finish(held: Extract<Step, { kind: 'held' }>): Promise<LaunchOutcome> {
    const completion = await this.complete('CONTINUE');
    // The snapshot was taken before our association: one fewer is free now.
    const poolStats = stats(this.pool, this.exhausted, held.mine ? 1 : 0);
    const facts = {
      instanceId: this.action.instanceId,
      allocationId: held.address.allocationId,
      publicIp: held.address.publicIp,
    };
    if (held.mine) {
      this.deps.logger.info('Associated pool EIP', {
        ...this.log,
        allocationId: facts.allocationId,
        publicIp: facts.publicIp,
        attempts: this.attempts,
        collisions: this.collisions,
        poolSize: poolStats.size,
        poolFree: poolStats.free,
      });
      return { status: 'done', ...facts, attempts: this.attempts, pool: poolStats, completion };
    }
    this.deps.logger.info('Instance already holds a pool EIP; nothing to do', {
      ...this.log,
      allocationId: facts.allocationId,
      publicIp: facts.publicIp,
    });
    return { status: 'already-done', ...facts, attempts: this.attempts, pool: poolStats, completion };
  }
}
