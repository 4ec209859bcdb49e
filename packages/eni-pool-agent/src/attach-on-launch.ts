import { CreateTagsCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import { recordPoolGauge } from '@netkit/aws-core/metrics';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { Deadline } from '@netkit/aws-core/retry';
import { type Allocation, allocate } from './allocate.ts';
import type { Pool } from './config.ts';
import { AttachTimeoutError, PermanentAllocationError, PoolExhaustedError } from './errors.ts';
import { type CoreDeps, gaugeOf, readPool } from './read-pool.ts';
import { undoClaim } from './release.ts';

/** The instance holds a pool ENI, attached now (`done`) or before (`already-done`); or ABANDON. */
export type LaunchOutcome =
  | (HandlerOutcome<'done' | 'already-done'> & {
      action?: 'attached';
      instanceId: string;
      networkInterfaceId: string;
      privateIp: string;
      hostname: string | undefined;
      attempts: number;
      result: 'CONTINUE';
    })
  | (HandlerOutcome<'abandoned'> & { instanceId: string; reason: string; result: 'ABANDON' });

/** Launch: attach a pool ENI, copy its hostname tag onto the instance; ABANDON when no retry can help. */
export async function attachOnLaunch(run: HookRun, core: CoreDeps, pool: Pool): Promise<LaunchOutcome> {
  const { instanceId, groupName } = run.action;
  let allocation: Allocation;
  try {
    allocation = await allocate({ instanceId, groupName, deferUndo: true }, pool, core, run.deadlines.work);
  } catch (error) {
    if (!(error instanceof PermanentAllocationError || error instanceof AttachTimeoutError)) throw error;
    run.logger.error('Cannot give the instance a pool ENI; abandoning the launch', {
      instanceId,
      groupName,
      reason: error.message,
      error: error.name,
    });
    if (error instanceof PoolExhaustedError) await recordExhaustion(run, core, pool, error.availabilityZone);
    // Undo only after an ABANDON this delivery completed: a twin may have completed CONTINUE (ADR 0086).
    const completion = await run.complete('ABANDON');
    if (error instanceof AttachTimeoutError && error.claim !== undefined && completion === 'completed')
      await undoClaim(core, error.claim);
    return { status: 'abandoned', instanceId, reason: error.message, result: 'ABANDON' };
  }
  await tagHostname(run, core, pool, allocation);
  if (allocation.gauge) recordPoolGauge(run, { ...allocation.gauge, exhausted: false });
  run.count('AttachAttempts', allocation.attempts);
  const { eni, attempts } = allocation;
  const status = allocation.outcome === 'attached' ? 'done' : 'already-done';
  return {
    status,
    action: status === 'done' ? 'attached' : undefined,
    instanceId,
    networkInterfaceId: eni.networkInterfaceId,
    privateIp: eni.privateIp,
    hostname: eni.hostname,
    attempts,
    result: 'CONTINUE',
  };
}

/** Write the ENI's hostname onto the instance (a redelivery checks first); a failure leaves it to Lambda's retry. */
async function tagHostname(
  run: HookRun,
  { ec2 }: CoreDeps,
  pool: Pool,
  { eni, instanceId, outcome }: Allocation,
) {
  const { hostname } = eni;
  const Key = pool.hostnameTag;
  if (hostname === undefined) {
    const log = { networkInterfaceId: eni.networkInterfaceId, hostnameTag: Key };
    run.logger.warn('Pool ENI has no hostname tag; the instance keeps its own hostname', log);
    return;
  }
  // Tagging may use the time the allocation left, short of the completion's last second.
  const deadline = new Deadline(run.deadlines.finish.at - 1_000, run.clock);
  const Filters = [
    { Name: 'resource-id', Values: [instanceId] },
    { Name: 'key', Values: [Key] },
  ];
  const describe = new DescribeTagsCommand({ Filters });
  const create = new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key, Value: hostname }] });
  try {
    if (outcome === 'already-held') {
      const tags = await run.call('DescribeTags', () => ec2.send(describe), [], deadline);
      if (tags.Tags?.some((t) => t.Value === hostname)) return;
    }
    await run.call('CreateTags', () => ec2.send(create), [], deadline);
  } catch (error) {
    run.logger.error('Could not tag the instance with its hostname', {
      instanceId,
      error: describeError(error),
    });
    throw error;
  }
}

/** Measure the exhausted AZ's pool for the gauge; a failure only costs the metric. */
async function recordExhaustion(run: HookRun, core: CoreDeps, pool: Pool, availabilityZone: string) {
  try {
    const enis = await readPool(core, pool, availabilityZone, Deadline.in(5_000, run.clock));
    recordPoolGauge(run, { ...gaugeOf(enis), exhausted: true });
  } catch (error) {
    run.logger.warn('Could not measure the pool for metrics', { error: describeError(error) });
  }
}
