import { AssociateAddressCommand, DisassociateAddressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DeadlineExceededError, describeError, isNotFoundError } from '@netkit/aws-core/errors';
import type { CompletionOutcome } from '@netkit/aws-core/lifecycle';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import { type PoolGauge, recordPoolGauge } from '@netkit/aws-core/metrics';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { awsCall, collisionDelay, pollUntil } from '@netkit/aws-core/retry';
import { ASSOCIATE_TRANSIENT, isAssociateTransient, isCandidateGone, isSeveralInterfaces } from './errors.ts';
import { primaryInterfaceId } from './instance.ts';
import {
  candidateOrder,
  describeHeldBy,
  describePool,
  gaugeOf,
  type PoolAddress,
  type PoolSnapshot,
} from './pool.ts';

interface LaunchFacts {
  instanceId: string;
  /** AssociateAddress calls made (1 unless another launch took a candidate first). */
  attempts: number;
  pool: PoolGauge;
}

/** The instance holds `allocationId`, associated now (`done`) or before (`already-done`); or ABANDON. */
export type LaunchOutcome = LaunchFacts &
  (
    | (HandlerOutcome<'done' | 'already-done'> & {
        allocationId: string;
        publicIp: string | undefined;
        result: 'CONTINUE';
      })
    | (HandlerOutcome<'abandoned'> & { reason: string; result: 'ABANDON'; completion: CompletionOutcome })
  );

const EMPTY_POOL_BACKOFF = { baseMs: 1_000, maxMs: 15_000 } as const;

type Held = { kind: 'held'; address: PoolAddress; mine: boolean };
type Step = Held | { kind: 'collision' } | { kind: 'empty' } | { kind: 'not-visible' };

/**
 * Launch: one filtered DescribeAddresses (an EIP already held ends it), one AssociateAddress
 * without reassociation on a candidate in the instance's own order, one read-back; a lost
 * candidate means describing again after a jittered delay, an empty pool a wait until the deadline.
 */
export function associateOnLaunch(
  run: HookRun,
  ec2: EC2Client,
  poolTags: Record<string, string>,
): Promise<LaunchOutcome> {
  return new Association(run, ec2, poolTags).settle();
}

/** One launch's association, step by step; the fields are what the steps learn on the way. */
class Association {
  private readonly instanceId: string;
  private readonly log: { instanceId: string; groupName: string };
  private pool: PoolSnapshot | undefined;
  private attempts = 0;
  private collisions = 0;
  private exhausted = false;
  /** Looked up only once EC2 refused by InstanceId (ADR 0085); then every association uses it. */
  private primaryEni: string | undefined;
  private needsInterface = false;
  private notVisible = false;
  /** Associated but not read back yet: undone if the launch is abandoned. */
  private unconfirmed: { allocationId: string; associationId: string | undefined } | undefined;
  /** What this invocation associated: a read-back that missed it does not make it someone else's. */
  private readonly associated = new Set<string>();

  constructor(
    private readonly run: HookRun,
    private readonly ec2: EC2Client,
    private readonly poolTags: Record<string, string>,
  ) {
    this.instanceId = run.action.instanceId;
    this.log = { instanceId: run.action.instanceId, groupName: run.action.groupName };
  }

  async settle(): Promise<LaunchOutcome> {
    const { deadlines, clock, random } = this.run;
    let held: Held;
    try {
      held = await pollUntil(() => this.tryCandidates(), {
        ...EMPTY_POOL_BACKOFF,
        deadline: deadlines.work,
        clock,
        random,
        what: `a free EIP in the pool ${JSON.stringify(this.poolTags)}`,
        onWait: (waits, delayMs) => this.onWait(waits, delayMs),
      });
    } catch (error) {
      if (error instanceof DeadlineExceededError) return this.abandon(this.timedOut(error));
      // awsCall gives up on a retryable error only when its next wait would pass the deadline.
      if (isAssociateTransient(error))
        return this.abandon(`still failing at the deadline: ${describeError(error)}`);
      throw error;
    }
    return this.finish(held);
  }

  /** One poll: collisions retry after a jittered delay; an empty pool or unlisted interface waits. */
  private async tryCandidates(): Promise<Held | undefined> {
    const { deadlines, clock, random, logger } = this.run;
    for (let tries = 0; ; tries++) {
      const step = await this.step();
      if (step.kind === 'held') return step;
      if (step.kind === 'empty') {
        if (!this.exhausted) logger.warn('No free EIP in the pool; waiting for one', this.poolLog());
        this.exhausted = true;
        return undefined;
      }
      if (step.kind === 'not-visible') {
        this.notVisible = true;
        return undefined;
      }
      if (deadlines.work.expired() || tries > (this.pool?.addresses.length ?? 0)) return undefined;
      const delay = Math.min(collisionDelay(this.collisions, random), deadlines.work.remaining());
      if (delay > 0) await clock.sleep(delay);
    }
  }

  private async onWait(waits: number, delayMs: number): Promise<void> {
    const what = this.interfaceUnlisted() ? 'the primary network interface to be listed' : 'a free EIP';
    this.run.logger.debug(`Waiting for ${what}`, { ...this.log, waits, delayMs });
    await this.run.beatIfDue();
  }

  private interfaceUnlisted(): boolean {
    return this.primaryEni === undefined && this.notVisible;
  }

  private timedOut(error: DeadlineExceededError): string {
    if (this.interfaceUnlisted())
      return `EC2 did not list the primary network interface of ${this.instanceId} before the deadline (terminated?)`;
    return this.exhausted ? 'no free EIP in the pool before the deadline' : error.message;
  }

  /** Describe the pool, then associate a candidate and read the association back. */
  private async step(): Promise<Step> {
    const pool = await this.run.call('DescribeAddresses', () => describePool(this.ec2, this.poolTags));
    this.pool = pool;
    const held = pool.addresses.find((a) => a.instanceId === this.instanceId);
    if (held) return { kind: 'held', address: held, mine: this.associated.has(held.allocationId) };
    const [candidate] = candidateOrder(pool.free, this.instanceId);
    if (!candidate) return { kind: 'empty' };
    if (this.needsInterface && !(await this.lookUpPrimary())) return { kind: 'not-visible' };
    let associated = await this.associate(candidate);
    if (associated === 'needs-interface') {
      if (!(await this.lookUpPrimary())) return { kind: 'not-visible' };
      associated = await this.associate(candidate);
    }
    if (associated !== 'associated') return { kind: 'collision' };
    return this.readBack(candidate);
  }

  /** False while EC2 does not list the instance's interfaces yet. */
  private async lookUpPrimary(): Promise<boolean> {
    this.needsInterface = true;
    this.primaryEni ??= await this.run.call('DescribeNetworkInterfaces', () =>
      primaryInterfaceId(this.ec2, this.instanceId),
    );
    return this.primaryEni !== undefined;
  }

  /** By InstanceId until EC2 refuses for several interfaces, then by the primary interface (ADR 0085). */
  private async associate(candidate: PoolAddress): Promise<'associated' | 'collision' | 'needs-interface'> {
    this.attempts++;
    const { allocationId } = candidate;
    const target =
      this.primaryEni === undefined
        ? { InstanceId: this.instanceId }
        : { NetworkInterfaceId: this.primaryEni };
    try {
      const command = new AssociateAddressCommand({
        AllocationId: allocationId,
        ...target,
        AllowReassociation: false,
      });
      const out = await this.run.call('AssociateAddress', () => this.ec2.send(command), ASSOCIATE_TRANSIENT);
      this.unconfirmed = { allocationId, associationId: out.AssociationId };
      this.associated.add(allocationId);
      return 'associated';
    } catch (error) {
      if (this.primaryEni === undefined && isSeveralInterfaces(error)) return 'needs-interface';
      if (!isCandidateGone(error)) throw error;
      this.collisions++;
      this.run.logger.debug('Candidate EIP was taken by another launch; describing the pool again', {
        ...this.log,
        allocationId,
        error: describeError(error),
      });
      return 'collision';
    }
  }

  /** Eventually consistent, and a twin delivery's association replaces ours: accept whichever stuck. */
  private async readBack(candidate: PoolAddress): Promise<Step> {
    const holding = await this.run.call('DescribeAddresses', () =>
      describeHeldBy(this.ec2, this.poolTags, this.instanceId),
    );
    this.unconfirmed = undefined;
    const mine = holding.find((a) => a.allocationId === candidate.allocationId);
    if (mine) return { kind: 'held', address: mine, mine: true };
    const other = holding[0];
    if (other) return { kind: 'held', address: other, mine: this.associated.has(other.allocationId) };
    this.collisions++;
    this.run.logger.warn('Association was not confirmed by the read-back; trying another EIP', {
      ...this.log,
      allocationId: candidate.allocationId,
    });
    return { kind: 'collision' };
  }

  private poolLog() {
    return { ...this.log, poolSize: this.pool?.addresses.length ?? 0, poolFree: this.pool?.free.length ?? 0 };
  }

  private async abandon(reason: string): Promise<LaunchOutcome> {
    const pool = recordPoolGauge(this.run, gaugeOf(this.pool, this.exhausted));
    const { instanceId, attempts, collisions } = this.counts();
    const log = { ...this.poolLog(), reason, attempts, collisions };
    this.run.logger.error('Could not give the instance a pool EIP; completing ABANDON', log);
    const completion = await this.run.complete('ABANDON');
    // Undo only after our own ABANDON: a twin may have seen the association and completed CONTINUE (ADR 0086).
    if (completion === 'completed') await this.undoUnconfirmed();
    return { status: 'abandoned', instanceId, reason, attempts, pool, result: 'ABANDON', completion };
  }

  private counts() {
    return { instanceId: this.instanceId, attempts: this.attempts, collisions: this.collisions };
  }

  /** Associated, but never read back: do not leave the EIP on an abandoned instance. */
  private async undoUnconfirmed(): Promise<void> {
    const associationId = this.unconfirmed?.associationId;
    if (associationId === undefined) return;
    const log = { ...this.log, allocationId: this.unconfirmed?.allocationId };
    const { deadlines, clock, random, logger } = this.run;
    try {
      const command = new DisassociateAddressCommand({ AssociationId: associationId });
      await awsCall('DisassociateAddress', () => this.ec2.send(command), {
        deadline: deadlines.finish,
        clock,
        random,
        logger,
      });
      logger.warn('Undid the unconfirmed association after completing ABANDON', log);
    } catch (error) {
      if (isNotFoundError(error)) return;
      logger.error('Could not undo the unconfirmed association; EC2 frees it when the instance terminates', {
        ...log,
        error: describeError(error),
      });
    }
  }

  /** The instance holds a pool EIP: the runner completes CONTINUE. */
  private finish(held: Held): LaunchOutcome {
    // The snapshot predates our association: one fewer is free now.
    const pool = recordPoolGauge(this.run, gaugeOf(this.pool, this.exhausted, held.mine ? 1 : 0));
    const { allocationId, publicIp } = held.address;
    const { instanceId, attempts, collisions } = this.counts();
    const facts = { instanceId, allocationId, publicIp, attempts, pool, result: 'CONTINUE' as const };
    if (!held.mine) {
      this.run.logger.info('Instance already holds a pool EIP; nothing to do', {
        ...this.log,
        allocationId,
        publicIp,
      });
      return { status: 'already-done', ...facts };
    }
    this.run.logger.info('Associated pool EIP', {
      ...this.log,
      allocationId,
      publicIp,
      attempts,
      collisions,
      poolSize: pool.size,
      poolFree: pool.free,
    });
    return { status: 'done', ...facts };
  }
}
