import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { describeError, isThrottlingError } from '@netkit/aws-core/errors';
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
  lifecycleScopeOf,
  type RejectedEvent,
} from '@netkit/aws-core/lifecycle';
import { type Metrics, MetricUnit, recordPoolGauge } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, type LambdaContextLike, retry } from '@netkit/aws-core/retry';
import { type Allocation, allocate, type CoreDeps, describePool, ec2Call, release } from './allocate.ts';
import { type Config, poolOf } from './config.ts';
import { AttachTimeoutError, PermanentAllocationError, PoolExhaustedError } from './errors.ts';

/** Time kept back from the Lambda deadline to complete the lifecycle action (and clean up). */
export const COMPLETION_MARGIN_MS = 10_000;

export interface HandlerDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock: Clock;
  metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
  random?: () => number;
}

export type HandlerResult =
  | RejectedEvent
  | {
      status: 'attached' | 'already-held';
      instanceId: string;
      networkInterfaceId: string;
      privateIp: string;
      hostname?: string;
      attempts: number;
    }
  | { status: 'abandoned'; instanceId: string; reason: string }
  | { status: 'detached'; instanceId: string; networkInterfaceIds: string[] }
  | { status: 'skipped'; instanceId: string; reason: string }
  | { status: 'inactive'; instanceId: string; reason: string };

/**
 * The Lambda mode handler for the launch (and optional terminate) lifecycle
 * action: attach a pool ENI, copy its hostname tag onto the instance, complete
 * CONTINUE; ABANDON when the pool stays empty or the instance cannot take the ENI.
 */
export function createHandler(deps: HandlerDeps, config: Config) {
  const pool = poolOf(config);
  const { logger, clock } = deps;
  // Powertools warns when publishing nothing: only publish when this invocation recorded a metric.
  let recorded = false;
  const metrics = deps.metrics && {
    addMetric: (...args: Parameters<Metrics['addMetric']>) => {
      recorded = true;
      return deps.metrics!.addMetric(...args);
    },
  };
  const core: CoreDeps = { ec2: deps.ec2, clock, logger, ...(deps.random ? { random: deps.random } : {}) };

  const complete = (action: LifecycleAction, result: LifecycleResult, context: LambdaContextLike) =>
    retry(() => completeLifecycleAction(deps.autoscaling, action, result, logger), {
      retryable: isThrottlingError,
      deadline: Deadline.fromContext(context, 1_000, clock),
      clock,
    });

  async function tagHostname(allocation: Allocation, deadline: Deadline): Promise<void> {
    const hostname = allocation.eni.hostname;
    if (hostname === undefined) {
      logger.warn('Pool ENI has no hostname tag; the instance keeps its own hostname', {
        networkInterfaceId: allocation.eni.networkInterfaceId,
        hostnameTag: pool.hostnameTag,
      });
      return;
    }
    if (allocation.outcome === 'already-held') {
      // Redelivery: only write the tag if an earlier attempt stopped before it.
      const tags = await ec2Call(
        () =>
          deps.ec2.send(
            new DescribeTagsCommand({
              Filters: [
                { Name: 'resource-id', Values: [allocation.instanceId] },
                { Name: 'key', Values: [pool.hostnameTag] },
              ],
            }),
          ),
        core,
        deadline,
      );
      if (tags.Tags?.some((t) => t.Value === hostname)) return;
    }
    await ec2Call(
      () =>
        deps.ec2.send(
          new CreateTagsCommand({
            Resources: [allocation.instanceId],
            Tags: [{ Key: pool.hostnameTag, Value: hostname }],
          }),
        ),
      core,
      deadline,
    );
  }

  async function launch(action: LifecycleAction, context: LambdaContextLike): Promise<HandlerResult> {
    const { instanceId } = action;
    if (!isEnteringGroup(action)) {
      // Warm pool instances are stopped and would hold an address for nothing; they get
      // their ENI when they leave the warm pool for the group (a launch event of its own).
      await complete(action, 'CONTINUE', context);
      return { status: 'skipped', instanceId, reason: `launch into ${action.destination}` };
    }
    const deadline = Deadline.fromContext(
      context,
      COMPLETION_MARGIN_MS,
      clock,
      config.ATTACH_TIMEOUT_SECONDS * 1_000,
    );
    // Verify before mutating: no pool ENI is attached for an action that is over or not this instance's.
    if (
      (await confirmLifecycleActionLive(deps.autoscaling, action, { deadline, clock, logger })) === 'inactive'
    ) {
      metrics?.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
      return {
        status: 'inactive',
        instanceId,
        reason: 'the lifecycle action is not active; nothing was changed',
      };
    }
    let allocation: Allocation;
    try {
      allocation = await allocate({ instanceId, groupName: action.groupName }, pool, core, deadline);
    } catch (error) {
      if (!(error instanceof PermanentAllocationError || error instanceof AttachTimeoutError)) throw error;
      logger.error('Cannot give the instance a pool ENI; abandoning the launch', {
        instanceId,
        groupName: action.groupName,
        reason: error.message,
        error: error.name,
      });
      await recordExhaustion(error);
      await complete(action, 'ABANDON', context);
      metrics?.addMetric('LaunchesAbandoned', MetricUnit.Count, 1);
      return { status: 'abandoned', instanceId, reason: error.message };
    }
    try {
      await tagHostname(allocation, Deadline.fromContext(context, 2_000, clock));
    } catch (error) {
      // The ENI stays attached: Lambda retries the event and the redelivery path writes the tag.
      logger.error('Could not tag the instance with its hostname', {
        instanceId,
        error: describeError(error),
      });
      throw error;
    }
    if ((await complete(action, 'CONTINUE', context)) === 'already-completed') {
      // The hook timed out (its DefaultResult applied) or another delivery completed it. The pool ENI
      // stays: with CONTINUE the instance is in service with it; with ABANDON EC2 detaches it (no
      // DeleteOnTermination) when the instance terminates, and it is free again.
      logger.error('The lifecycle action ended before this launch completed it; not retrying', {
        instanceId,
        networkInterfaceId: allocation.eni.networkInterfaceId,
      });
      metrics?.addMetric(LIFECYCLE_ACTION_ENDED_METRIC, MetricUnit.Count, 1);
    }
    if (allocation.gauge && metrics) recordPoolGauge(metrics, { ...allocation.gauge, exhausted: false });
    metrics?.addMetric('AttachAttempts', MetricUnit.Count, allocation.attempts);
    const result: HandlerResult = {
      status: allocation.outcome,
      instanceId,
      networkInterfaceId: allocation.eni.networkInterfaceId,
      privateIp: allocation.eni.privateIp,
      attempts: allocation.attempts,
    };
    if (allocation.eni.hostname !== undefined) result.hostname = allocation.eni.hostname;
    return result;
  }

  async function recordExhaustion(error: Error): Promise<void> {
    const gauge = metrics;
    if (gauge === undefined || !(error instanceof PoolExhaustedError)) return;
    try {
      const enis = await describePool(core, pool, error.availabilityZone, Deadline.in(5_000, clock), false);
      recordPoolGauge(gauge, {
        size: enis.length,
        free: enis.filter((e) => e.status === 'available').length,
        exhausted: true,
      });
    } catch (gaugeError) {
      logger.warn('Could not measure the pool for metrics', { error: describeError(gaugeError) });
    }
  }

  async function terminate(action: LifecycleAction, context: LambdaContextLike): Promise<HandlerResult> {
    const { instanceId } = action;
    if (!config.DETACH_ON_TERMINATE || !isLeavingGroup(action)) {
      await complete(action, 'CONTINUE', context);
      return {
        status: 'skipped',
        instanceId,
        reason: config.DETACH_ON_TERMINATE ? 'not leaving the group' : 'DETACH_ON_TERMINATE=false',
      };
    }
    const deadline = Deadline.fromContext(
      context,
      COMPLETION_MARGIN_MS,
      clock,
      config.ATTACH_TIMEOUT_SECONDS * 1_000,
    );
    const released = await release(instanceId, pool, core, deadline);
    await complete(action, 'CONTINUE', context);
    metrics?.addMetric('PoolEnisReleased', MetricUnit.Count, released.detached.length);
    return {
      status: 'detached',
      instanceId,
      networkInterfaceIds: released.detached.map((e) => e.networkInterfaceId),
    };
  }

  return async function handler(event: unknown, context: LambdaContextLike): Promise<HandlerResult> {
    const action = acceptLifecycleEvent(event, logger, lifecycleScopeOf(config));
    if (isRejected(action)) return action;
    recorded = false;
    try {
      return action.kind === 'launch' ? await launch(action, context) : await terminate(action, context);
    } finally {
      if (recorded) deps.metrics?.publishStoredMetrics();
    }
  };
}
