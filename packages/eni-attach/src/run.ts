import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeNetworkInterfacesCommand, type EC2Client, type NetworkInterface } from '@aws-sdk/client-ec2';
import {
  awsErrorName,
  DeadlineExceededError,
  isAwsError,
  isServerFault,
  isThrottlingError,
  NetkitError,
  RaceUnsettledError,
} from '@netkit/aws-core/errors';
import { type HeartbeatKeeper, type LifecycleAction, startHeartbeat } from '@netkit/aws-core/lifecycle';
import type { Logger } from '@netkit/aws-core/observability';
import {
  type Clock,
  type Deadline,
  retryTransient,
  type TransientRetryOptions,
} from '@netkit/aws-core/retry';
import { tagFilters } from '@netkit/aws-core/tags';
import { MANAGED_BY, TAG, tagValue } from './naming.ts';

/** What the core functions need; the handler builds it once per container. */
export interface Deps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock: Clock;
  /** Jitter source for backoff; injectable for tests. */
  random?: () => number;
}

/** Timing of one invocation: `work` bounds the EC2 work, `finish` (later) the cleanup and completion. */
export interface Deadlines {
  work: Deadline;
  finish: Deadline;
}

/**
 * State of one invocation: deadlines, and lifecycle heartbeats (aws-core's keeper, paced by
 * waits) recorded during waits so a long wait (pending instance, throttling) does not hit the
 * hook's heartbeat timeout.
 */
export class Run {
  private readonly keeper: HeartbeatKeeper | undefined;

  constructor(
    readonly deps: Deps,
    readonly action: LifecycleAction,
    readonly deadlines: Deadlines,
    heartbeatIntervalMs: number,
  ) {
    // Only a launch is kept alive: a terminate's work is short and its hook's timeout applies as is.
    if (action.kind === 'launch') {
      this.keeper = startHeartbeat(deps.autoscaling, action, {
        intervalMs: heartbeatIntervalMs,
        clock: deps.clock,
        logger: deps.logger,
        pace: 'waits',
      });
    }
  }

  get logger() {
    return this.deps.logger;
  }

  /** Lifecycle heartbeats recorded so far. */
  get heartbeats(): number {
    return this.keeper?.beats ?? 0;
  }

  /**
   * Record a heartbeat if the interval has passed since the last one. Throws
   * LifecycleActionEndedError when AWS answers that the action is no longer active (the hook
   * timed out, or another delivery completed it): the work must stop. Other failures are logged.
   */
  beatIfDue(): Promise<void> {
    return this.keeper?.beatIfDue() ?? Promise.resolve();
  }

  /**
   * One AWS call, retried with backoff inside the deadline on throttling,
   * server faults and the given transient error names.
   */
  call<T>(
    what: string,
    fn: () => Promise<T>,
    transient: readonly string[] = [],
    deadline: Deadline = this.deadlines.work,
  ): Promise<T> {
    const options: TransientRetryOptions = {
      deadline,
      clock: this.deps.clock,
      transient,
      onRetry: async (error, attempt, delayMs) => {
        this.logger.info(`Retrying ${what}`, { error: awsErrorName(error), attempt: attempt + 1, delayMs });
        await this.beatIfDue();
      },
    };
    if (this.deps.random) options.random = this.deps.random;
    return retryTransient(fn, options);
  }
}

/**
 * True when giving up now would be premature: the condition may clear by
 * itself (throttling, a pending instance, a network error, the deadline, a
 * lost race whose winner Describe does not list yet). Such failures are rethrown so Lambda redelivers the event; the handler is
 * idempotent. Client faults from AWS and our own errors (AbandonError,
 * SubnetMapError) are final.
 */
export function isTransientFailure(error: unknown): boolean {
  // A lost race whose winner EC2 does not list yet: the redelivery finds the winner's work.
  if (error instanceof DeadlineExceededError || error instanceof RaceUnsettledError) return true;
  // AbandonError, SubnetMapError: our own verdicts, final.
  if (error instanceof NetkitError) return false;
  if (isThrottlingError(error) || isServerFault(error)) return true;
  if (isAwsError(error, 'IncorrectInstanceState')) return true;
  return (error as { $fault?: unknown } | undefined)?.$fault !== 'client';
}

/** Every ENI this package created for `instanceId` (attached or not): one filtered Describe call. */
export async function describeOwnInterfaces(run: Run, instanceId: string): Promise<NetworkInterface[]> {
  const out = await run.call('DescribeNetworkInterfaces', () =>
    run.deps.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: tagFilters({ [TAG.managedBy]: MANAGED_BY, [TAG.instanceId]: instanceId }),
      }),
    ),
  );
  return (out.NetworkInterfaces ?? []).filter(
    (eni) => tagValue(eni, TAG.managedBy) === MANAGED_BY && tagValue(eni, TAG.instanceId) === instanceId,
  );
}

/** The ENI of ours attached to `instanceId` at `deviceIndex`, if any. */
export function attachedAt(
  enis: readonly NetworkInterface[],
  instanceId: string,
  deviceIndex: number,
): NetworkInterface | undefined {
  return enis.find(
    (eni) =>
      tagValue(eni, TAG.deviceIndex) === String(deviceIndex) &&
      eni.Attachment?.InstanceId === instanceId &&
      eni.Attachment.DeviceIndex === deviceIndex &&
      (eni.Attachment.Status === 'attached' || eni.Attachment.Status === 'attaching'),
  );
}
