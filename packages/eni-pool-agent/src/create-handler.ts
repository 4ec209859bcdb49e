import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import {
  acceptLifecycleEvent,
  completeLifecycleAction,
  confirmLifecycleActionLive,
  isEnteringGroup,
  isLeavingGroup,
  isRejected,
  LIFECYCLE_ACTION_ENDED_METRIC,
  type LifecycleAction,
  type LifecycleResult,
  type RejectedEvent,
} from '@netkit/aws-core/lifecycle';
import { type Metrics, MetricUnit, recordPoolGauge } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { type Clock, Deadline, type LambdaContextLike, retryTransient } from '@netkit/aws-core/retry';
import {
  type Allocation,
  allocate,
  type CoreDeps,
  describePool,
  ec2Call,
  release,
  undoClaim,
} from './allocate.ts';
import { type Config, type Pool, poolOf } from './config.ts';
import { AttachTimeoutError, PermanentAllocationError, PoolExhaustedError } from './errors.ts';

export interface HandlerDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock: Clock;
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
  random?: () => number;
}

/** A launch that got (`done`, `action: 'attached'`) or already held (`already-done`) a pool ENI. */
export interface LaunchResult extends HandlerOutcome<'done' | 'already-done'> {
  action?: 'attached';
  instanceId: string;
  networkInterfaceId: string;
  privateIp: string;
  hostname?: string;
  attempts: number;
}

/** Every result speaks the shared vocabulary (`HandlerOutcome`); the package's facts are the other fields. */
export type HandlerResult =
  | RejectedEvent
  | LaunchResult
  | (HandlerOutcome<'done'> & { action: 'detached'; instanceId: string; networkInterfaceIds: string[] })
  | (HandlerOutcome<'abandoned' | 'skipped' | 'ended'> & { instanceId: string; reason: string });

type Recorder = Pick<Metrics, 'addMetric'>;

/**
 * The Lambda mode handler for the launch (and optional terminate) lifecycle
 * action: attach a pool ENI, copy its hostname tag onto the instance, complete
 * CONTINUE; ABANDON when the pool stays empty or the instance cannot take the ENI.
 */
export function createHandler(deps: HandlerDeps, config: Config) {
  const pool = poolOf(config);
  return async function handler(event: unknown, context: LambdaContextLike): Promise<HandlerResult> {
    const action = acceptLifecycleEvent(event, deps.logger, config.scope);
    if (isRejected(action)) return action;
    // Powertools warns when publishing nothing: only publish when this invocation recorded a metric.
    let recorded = false;
    const metrics: Recorder = {
      addMetric: (...args) => {
        recorded = true;
        return deps.metrics.addMetric(...args);
      },
    };
    const run = new Invocation(deps, config, pool, metrics, action, context);
    try {
      return action.kind === 'launch' ? await run.launch() : await run.terminate();
    } finally {
      if (recorded) deps.metrics.publishStoredMetrics();
    }
  };
}

/** One lifecycle action's steps: verify it is live, allocate (or release), tag, complete. */
class Invocation {
  private readonly core: CoreDeps;
  private readonly instanceId: string;

  constructor(
    private readonly deps: HandlerDeps,
    private readonly config: Config,
    private readonly pool: Pool,
    private readonly metrics: Recorder,
    private readonly action: LifecycleAction,
    private readonly context: LambdaContextLike,
  ) {
    const { ec2, clock, logger, random } = deps;
    this.core = { ec2, clock, logger, ...(random ? { random } : {}) };
    this.instanceId = action.instanceId;
  }

  private complete(result: LifecycleResult) {
    const { deps } = this;
    return retryTransient(() => completeLifecycleAction(deps.autoscaling, this.action, result, deps.logger), {
      deadline: Deadline.fromContext(this.context, 1_000, deps.clock),
      clock: deps.clock,
    });
  }

  private workDeadline(): Deadline {
    return Deadline.fromContext(
      this.context,
      this.config.deadlineMarginMs,
      this.deps.clock,
      this.config.attachTimeoutMs,
    );
  }

  async launch(): Promise<HandlerResult> {
    const { action, instanceId, deps } = this;
    if (!isEnteringGroup(action)) {
      // Warm pool instances are stopped and would hold an address for nothing; they get
      // their ENI when they leave the warm pool for the group (a launch event of its own).
      await this.complete('CONTINUE');
      return { status: 'skipped', instanceId, reason: `launch into ${action.destination}` };
    }
    const deadline = this.workDeadline();
    // Verify before mutating: no pool ENI is attached for an action that is over or not this instance's.
    const { clock, logger } = deps;
    if (
      (await confirmLifecycleActionLive(deps.autoscaling, action, { deadline, clock, logger })) === 'inactive'
    ) {
      this.metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
      return {
        status: 'ended',
        instanceId,
        reason: 'the lifecycle action is not active; nothing was changed',
      };
    }
    const allocation = await this.allocateOrAbandon(deadline);
    if ('status' in allocation) return allocation;
    await this.tagHostname(allocation);
    return this.finishLaunch(allocation);
  }

  /** The instance's pool ENI; on a failure no retry can fix, ABANDON the launch instead. */
  private async allocateOrAbandon(deadline: Deadline): Promise<Allocation | HandlerResult> {
    const { action, instanceId } = this;
    try {
      return await allocate(
        { instanceId, groupName: action.groupName, deferUndo: true },
        this.pool,
        this.core,
        deadline,
      );
    } catch (error) {
      if (!(error instanceof PermanentAllocationError || error instanceof AttachTimeoutError)) throw error;
      this.deps.logger.error('Cannot give the instance a pool ENI; abandoning the launch', {
        instanceId,
        groupName: action.groupName,
        reason: error.message,
        error: error.name,
      });
      await this.recordExhaustion(error);
      const completion = await this.complete('ABANDON');
      // Undo only after an ABANDON this delivery completed: a twin may have completed CONTINUE.
      if (error instanceof AttachTimeoutError && error.claim !== undefined && completion === 'completed') {
        await undoClaim(this.core, error.claim);
      }
      this.metrics.addMetric('LaunchesAbandoned', MetricUnit.Count, 1);
      return { status: 'abandoned', instanceId, reason: error.message };
    }
  }

  private async tagHostname(allocation: Allocation): Promise<void> {
    try {
      await this.writeHostnameTag(allocation, Deadline.fromContext(this.context, 2_000, this.deps.clock));
    } catch (error) {
      // The ENI stays attached: Lambda retries the event and the redelivery path writes the tag.
      this.deps.logger.error('Could not tag the instance with its hostname', {
        instanceId: this.instanceId,
        error: describeError(error),
      });
      throw error;
    }
  }

  private async writeHostnameTag(allocation: Allocation, deadline: Deadline): Promise<void> {
    const { deps, pool, core } = this;
    const hostname = allocation.eni.hostname;
    if (hostname === undefined) {
      deps.logger.warn('Pool ENI has no hostname tag; the instance keeps its own hostname', {
        networkInterfaceId: allocation.eni.networkInterfaceId,
        hostnameTag: pool.hostnameTag,
      });
      return;
    }
    if (allocation.outcome === 'already-held') {
      // Redelivery: only write the tag if an earlier attempt stopped before it.
      const filters = [
        { Name: 'resource-id', Values: [allocation.instanceId] },
        { Name: 'key', Values: [pool.hostnameTag] },
      ];
      const tags = await ec2Call(
        () => deps.ec2.send(new DescribeTagsCommand({ Filters: filters })),
        core,
        deadline,
      );
      if (tags.Tags?.some((t) => t.Value === hostname)) return;
    }
    const tag = new CreateTagsCommand({
      Resources: [allocation.instanceId],
      Tags: [{ Key: pool.hostnameTag, Value: hostname }],
    });
    await ec2Call(() => deps.ec2.send(tag), core, deadline);
  }

  /** Complete CONTINUE, record the gauge and attempts, and say what the launch got. */
  private async finishLaunch(allocation: Allocation): Promise<LaunchResult> {
    const { metrics, instanceId } = this;
    if ((await this.complete('CONTINUE')) === 'already-completed') {
      // The hook timed out (its DefaultResult applied) or another delivery completed it. The pool ENI
      // stays: with CONTINUE the instance is in service with it; with ABANDON EC2 detaches it (no
      // DeleteOnTermination) when the instance terminates, and it is free again.
      this.deps.logger.error('The lifecycle action ended before this launch completed it; not retrying', {
        instanceId,
        networkInterfaceId: allocation.eni.networkInterfaceId,
      });
      metrics.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
    }
    if (allocation.gauge) recordPoolGauge(metrics, { ...allocation.gauge, exhausted: false });
    metrics.addMetric('AttachAttempts', MetricUnit.Count, allocation.attempts);
    const result: LaunchResult =
      allocation.outcome === 'attached'
        ? ({ status: 'done', action: 'attached', instanceId } as LaunchResult)
        : ({ status: 'already-done', instanceId } as LaunchResult);
    result.networkInterfaceId = allocation.eni.networkInterfaceId;
    result.privateIp = allocation.eni.privateIp;
    result.attempts = allocation.attempts;
    if (allocation.eni.hostname !== undefined) result.hostname = allocation.eni.hostname;
    return result;
  }

  private async recordExhaustion(error: Error): Promise<void> {
    if (!(error instanceof PoolExhaustedError)) return;
    try {
      const at = Deadline.in(5_000, this.deps.clock);
      const enis = await describePool(this.core, this.pool, error.availabilityZone, at, false);
      recordPoolGauge(this.metrics, {
        size: enis.length,
        free: enis.filter((e) => e.status === 'available').length,
        exhausted: true,
      });
    } catch (gaugeError) {
      this.deps.logger.warn('Could not measure the pool for metrics', { error: describeError(gaugeError) });
    }
  }

  async terminate(): Promise<HandlerResult> {
    const { action, instanceId, config } = this;
    if (!config.detachOnTerminate || !isLeavingGroup(action)) {
      await this.complete('CONTINUE');
      return {
        status: 'skipped',
        instanceId,
        reason: config.detachOnTerminate ? 'not leaving the group' : 'DETACH_ON_TERMINATE=false',
      };
    }
    const released = await release(instanceId, this.pool, this.core, this.workDeadline());
    await this.complete('CONTINUE');
    this.metrics.addMetric('PoolEnisReleased', MetricUnit.Count, released.detached.length);
    return {
      status: 'done',
      action: 'detached',
      instanceId,
      networkInterfaceIds: released.detached.map((e) => e.networkInterfaceId),
    };
  }
}
