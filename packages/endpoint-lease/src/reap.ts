/**
 * reaper: delete the endpoint stack when no lease is active, no task of the package is
 * PENDING/RUNNING and (hour-aligned policy) its paid hour is about to end.
 *
 * A delete is announced first (reap-intent tag), then, after a settle delay, the lease and the
 * tasks are read again; only if the decision is still "delete" is DeleteStack called.
 */
import { type ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { describeError } from '@netkit/aws-core/errors';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import type { Deadline } from '@netkit/aws-core/retry';
import type { Deps } from './acquire.ts';
import type { Config } from './config.ts';
import { removeStack } from './delete.ts';
import { iso, readRecords, startedByFor } from './lease.ts';
import { type Action, decide, type LeaseState, policyConfig, stackPhase } from './policy.ts';
import { clearIntent, makeIntent, writeIntent } from './reap-intent.ts';
import { billingStart, describeStack, type StackView } from './stack.ts';

/** The reaper never calls DeleteStack later than this before its intent expires. */
export const INTENT_MARGIN_MS = 30_000;
/** How long an intent is valid beyond the settle delay. */
export const INTENT_TTL_MS = 60_000;

export interface ReapResult extends HandlerOutcome<'done' | 'skipped'> {
  /** `done` when the stack was deleted, `skipped` when it was kept (or there is none); `action` says which. */
  action: Action['kind'] | 'deleted';
  reason?: string;
  stackStatus?: string;
  activeTasks: number;
  leaseUntil?: string;
  /** When the decision can next change (the earliest useful next run). */
  nextCheckAt?: string;
  /** Logical ids of resources a bounded DELETE_FAILED delete left outside the stack. */
  retained?: string[];
}

/**
 * PENDING and RUNNING tasks of the package, one page is enough. ListTasks: "When you specify
 * startedBy as the filter, it must be the only filter that you use"; the default desiredStatus
 * filter, RUNNING, covers PENDING and RUNNING tasks.
 */
export async function countActiveTasks(ecs: ECSClient, config: Config): Promise<number> {
  const out = await ecs.send(
    new ListTasksCommand({
      cluster: config.clusterArn,
      startedBy: startedByFor(config.stackName),
      maxResults: 100,
    }),
  );
  return out.taskArns?.length ?? 0;
}

async function readState(
  deps: Deps,
  config: Config,
): Promise<{ state: LeaseState; stack: StackView | undefined }> {
  const stack = await describeStack(deps.cfn, config.stackName);
  const { leaseUntil } = await readRecords(deps.ec2, config.vpcId, config.stackName);
  const activeTasks = stack === undefined ? 0 : await countActiveTasks(deps.ecs, config);
  // Billed hours run from the earliest endpoint's creation, not the stack's (only a stable stack
  // is judged by its billed hour).
  const createdAt =
    stack !== undefined && stackPhase(stack.status) === 'stable'
      ? await billingStart(deps.ec2, stack)
      : stack?.createdAt;
  return {
    stack,
    state: {
      stack: stack && { status: stack.status, createdAt: createdAt as number },
      leaseUntil,
      activeTasks,
      demand: false,
    },
  };
}

function summary(action: Action, state: LeaseState, stack: StackView | undefined): ReapResult {
  const result: ReapResult = { status: 'skipped', action: action.kind, activeTasks: state.activeTasks };
  if ('reason' in action) result.reason = action.reason;
  if (stack) result.stackStatus = stack.status;
  if (state.leaseUntil !== undefined) result.leaseUntil = iso(state.leaseUntil);
  if (action.kind === 'keep' && action.until !== undefined) result.nextCheckAt = iso(action.until);
  return result;
}

export async function reap(
  deps: Deps,
  config: Config,
  deadline: Deadline,
  owner: string,
): Promise<ReapResult> {
  const { clock, logger } = deps;
  const policy = policyConfig(config);
  const first = await readState(deps, config);
  const action = decide(first.state, clock.now(), policy);
  if (action.kind !== 'delete') {
    logger.info('Keeping the endpoint stack', { ...summary(action, first.state, first.stack) });
    return summary(action, first.state, first.stack);
  }

  const settleMs = config.consistencySettleMs;
  if (deadline.remaining() < settleMs + INTENT_MARGIN_MS + 5_000) {
    logger.warn('Not enough time left to delete safely; the next run will', {
      remainingMs: deadline.remaining(),
    });
    return { ...summary(action, first.state, first.stack), action: 'keep', reason: 'no-time' };
  }
  const intent = makeIntent(clock.now() + settleMs + INTENT_TTL_MS, owner);
  await writeIntent(deps.ec2, config.vpcId, config.stackName, intent);
  try {
    // EC2 tags are eventually consistent: give a lease written just before our intent time to show.
    if (settleMs > 0) await clock.sleep(settleMs);
    const second = await readState(deps, config);
    const confirm = decide(second.state, clock.now(), policy);
    if (confirm.kind !== 'delete' || second.stack?.stackId !== first.stack?.stackId) {
      logger.info('Delete cancelled: the state changed', { ...summary(confirm, second.state, second.stack) });
      return summary(confirm, second.state, second.stack);
    }
    if (clock.now() > intent.expiresAt - INTENT_MARGIN_MS) {
      logger.warn('Delete intent about to expire; leaving the delete to the next run');
      return { ...summary(confirm, second.state, second.stack), action: 'keep', reason: 'intent-expired' };
    }
    const removed = await removeStack(deps, config, second.stack as StackView);
    logger.info('Deleting the endpoint stack', { ...summary(confirm, second.state, second.stack) });
    const result: ReapResult = {
      ...summary(confirm, second.state, second.stack),
      status: 'done',
      action: 'deleted',
    };
    if (removed.retained.length > 0) result.retained = removed.retained.map((r) => r.logicalId);
    return result;
  } finally {
    try {
      await clearIntent(deps.ec2, config.vpcId, config.stackName, intent);
    } catch (error) {
      // It expires on its own; acquires wait at most until then.
      logger.warn('Could not clear the reap intent', { error: describeError(error) });
    }
  }
}
