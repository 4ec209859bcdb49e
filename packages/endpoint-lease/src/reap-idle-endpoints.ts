/** Deletes an idle stack: announce (reap intent), settle, re-read, delete if still idle (README "Lease safety"). */
import { type ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { describeError } from '@netkit/aws-core/errors';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import type { Deadline } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { ReaperHandlerDeps } from './create-reaper-handler.ts';
import { iso, readRecords, startedByFor } from './lease.ts';
import { type Action, decide, type LeaseState, stackPhase } from './policy.ts';
import { clearIntent, makeIntent, type ReapIntent, writeIntent } from './reap-intent.ts';
import { removeStack } from './remove-stack.ts';
import { billingStart, describeStack, type StackView } from './stack.ts';

// An intent lives the settle delay plus TTL; DeleteStack is never called within the margin of its expiry.
const INTENT_MARGIN_MS = 30_000;
const INTENT_TTL_MS = 60_000;

interface ReaperResult extends HandlerOutcome<'done' | 'skipped'> {
  action: Action['kind'] | 'deleted';
  stackStatus?: string;
  activeTasks: number;
  leaseUntil?: string;
  /** The earliest useful next run. */
  nextCheckAt?: string;
  /** Logical ids of resources a bounded DELETE_FAILED delete left outside the stack. */
  retained?: string[];
}

/** PENDING and RUNNING tasks (ListTasks' default); startedBy must be its only filter. One page is enough. */
export async function countActiveTasks(ecs: ECSClient, config: Config) {
  const startedBy = startedByFor(config.stackName);
  const out = await ecs.send(
    new ListTasksCommand({ cluster: config.clusterArn, startedBy, maxResults: 100 }),
  );
  return out.taskArns?.length ?? 0;
}

type Observed = Awaited<ReturnType<typeof observe>>;

async function observe(deps: ReaperHandlerDeps, config: Config) {
  const stack = await describeStack(deps.cfn, config.stackName);
  const { leaseUntil } = await readRecords(deps.ec2, config.vpcId, config.stackName);
  const activeTasks = stack === undefined ? 0 : await countActiveTasks(deps.ecs, config);
  const state: LeaseState = {
    stack: stack && {
      status: stack.status,
      // Only a stable stack is judged by its billed hour, which runs from its first endpoint's creation.
      createdAt:
        stackPhase(stack.status) === 'stable' ? await billingStart(deps.ec2, stack) : stack.createdAt,
    },
    leaseUntil,
    activeTasks,
    demand: false,
  };
  return { stack, state };
}

function summary(action: Action, { state, stack }: Observed): ReaperResult {
  return {
    status: 'skipped',
    action: action.kind,
    reason: 'reason' in action ? action.reason : undefined,
    stackStatus: stack?.status,
    activeTasks: state.activeTasks,
    leaseUntil: state.leaseUntil === undefined ? undefined : iso(state.leaseUntil),
    nextCheckAt: action.kind === 'keep' && action.until !== undefined ? iso(action.until) : undefined,
  };
}

export async function reapIdleEndpoints(
  deps: ReaperHandlerDeps,
  config: Config,
  deadline: Deadline,
  owner: string,
): Promise<ReaperResult> {
  const { clock, logger } = deps;
  const first = await observe(deps, config);
  const action = decide(first.state, clock.now(), config);
  if (action.kind !== 'delete') {
    logger.info('Keeping the endpoint stack', { ...summary(action, first) });
    return summary(action, first);
  }
  if (deadline.remaining() < config.consistencySettleMs + INTENT_MARGIN_MS + 5_000) {
    logger.warn('Too little time left to delete safely; leaving it', { remainingMs: deadline.remaining() });
    return { ...summary(action, first), action: 'keep', reason: 'no-time' };
  }
  const intent = makeIntent(clock.now() + config.consistencySettleMs + INTENT_TTL_MS, owner);
  await writeIntent(deps.ec2, config.vpcId, config.stackName, intent);
  try {
    return await deleteIfStillIdle(deps, config, first, intent);
  } finally {
    // An intent left behind expires on its own; acquires wait at most until then.
    await clearIntent(deps.ec2, config.vpcId, config.stackName, intent).catch((error) =>
      logger.warn('Could not clear the reap intent', { error: describeError(error) }),
    );
  }
}

async function deleteIfStillIdle(
  deps: ReaperHandlerDeps,
  config: Config,
  first: Observed,
  intent: ReapIntent,
): Promise<ReaperResult> {
  const { clock, logger } = deps;
  // EC2 tags are eventually consistent: give a lease written just before our intent time to show.
  if (config.consistencySettleMs > 0) await clock.sleep(config.consistencySettleMs);
  const second = await observe(deps, config);
  const confirm = decide(second.state, clock.now(), config);
  const result = summary(confirm, second);
  if (confirm.kind !== 'delete' || second.stack?.stackId !== first.stack?.stackId) {
    logger.info('Delete cancelled: the state changed', { ...result });
    return result;
  }
  if (clock.now() > intent.expiresAt - INTENT_MARGIN_MS) {
    logger.warn('Delete intent about to expire; leaving the delete to the next run');
    return { ...result, action: 'keep', reason: 'intent-expired' };
  }
  const retained = await removeStack(deps, config, second.stack as StackView);
  logger.info('Deleting the endpoint stack', { ...result });
  return {
    ...result,
    status: 'done',
    action: 'deleted',
    retained: retained.length > 0 ? retained : undefined,
  };
}
