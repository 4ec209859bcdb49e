/** RunTask on a chain of client tokens per request and a referenceId per invocation (ADR 0015). */
import {
  DescribeTasksCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { describeError, isAwsError, isTransientError } from '@netkit/aws-core/errors';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { TaskRejectedError, TaskStartError } from './errors.ts';

/** The reason StopTask records for tasks this package stops; marks a failed start for later retries. */
export const STOP_REASON = 'endpoint-lease: endpoints unavailable';
/** Tokens one request may use (one new start per invocation; Lambda makes at most 3 invocations). */
export const MAX_RUN_TASK_TOKENS = 10;
/** RunTask clientToken: up to 64 ASCII characters in the range 33-126. */
const TOKEN_MAX = 64;

export function runTaskToken(base: string, attempt: number): string {
  const clean = base.replace(/[^\x21-\x7e]/g, '_') || 'endpoint-lease';
  const suffix = attempt === 0 ? '' : `-${attempt}`;
  return clean.slice(0, TOKEN_MAX - suffix.length) + suffix;
}

/** A 4xx answer from ECS other than throttling: repeating the request cannot change it. */
function isEcsClientRejection(error: unknown): boolean {
  const e = error as { $fault?: unknown; $metadata?: { httpStatusCode?: number } } | null | undefined;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  return !isTransientError(error) && (e?.$fault === 'client' || (status >= 400 && status < 500));
}

type RunTaskDeps = Pick<AcquireHandlerDeps, 'ecs' | 'logger'>;

export interface StartRequest {
  input: Omit<RunTaskCommandInput, 'clientToken' | 'referenceId'> & { cluster: string; count: number };
  /** The EventBridge event id or Lambda request id; invocationRef is unique to this invocation. */
  tokenBase: string;
  invocationRef: string;
}

export async function stopTasks(deps: RunTaskDeps, cluster: string, taskArns: string[]) {
  for (const task of taskArns) {
    try {
      await deps.ecs.send(new StopTaskCommand({ cluster, task, reason: STOP_REASON }));
    } catch (error) {
      deps.logger.error('StopTask failed', { task, error: describeError(error) });
    }
  }
}

const arnsOf = (list: { taskArn?: unknown }[] | undefined) =>
  (list ?? []).map((t) => t.taskArn).filter((a): a is string => typeof a === 'string');

/** An earlier call's tasks to adopt, or undefined after stopping what is left of a known failure. */
async function adoptable(deps: RunTaskDeps, cluster: string, count: number, arns: string[]) {
  if (arns.length === 0) return undefined;
  const tasks = (await deps.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? [];
  const stoppedByUs = tasks.some((t) => t.desiredStatus === 'STOPPED' && t.stoppedReason === STOP_REASON);
  // Started in full and not stopped by us: running, or it ran and ended on its own.
  if (!stoppedByUs && arns.length >= count) return arns;
  await stopTasks(deps, cluster, arnsOf(tasks.filter((t) => t.desiredStatus !== 'STOPPED')));
  return undefined;
}

/** One RunTask: its answer, or the tasks an earlier call on this token started (ConflictException). */
async function runOnce(deps: RunTaskDeps, request: StartRequest, clientToken: string) {
  try {
    const input = { ...request.input, clientToken, referenceId: request.invocationRef };
    return { out: await deps.ecs.send(new RunTaskCommand(input)) };
  } catch (error) {
    if (isAwsError(error, 'ConflictException')) {
      const ids = (error as { resourceIds?: unknown[] }).resourceIds ?? [];
      return { earlier: ids.filter((a): a is string => typeof a === 'string') };
    }
    if (isEcsClientRejection(error))
      throw new TaskRejectedError(`RunTask refused the request: ${describeError(error)}`, { cause: error });
    throw error;
  }
}

export async function startTasks(deps: RunTaskDeps, request: StartRequest) {
  const { cluster, count } = request.input;
  for (let attempt = 0; attempt < MAX_RUN_TASK_TOKENS; attempt++) {
    const clientToken = runTaskToken(request.tokenBase, attempt);
    const { out, earlier } = await runOnce(deps, request, clientToken);
    if (earlier !== undefined) {
      const taskArns = await adoptable(deps, cluster, count, earlier);
      if (taskArns !== undefined) return { taskArns, clientToken, adopted: true };
      deps.logger.info('Client token already used by a failed start; using the next one', { clientToken });
      continue;
    }
    const taskArns = arnsOf(out?.tasks);
    if (taskArns.length < count) {
      const reasons = (out?.failures ?? []).map((f) =>
        `${f.arn ?? ''} ${f.reason ?? ''} ${f.detail ?? ''}`.trim(),
      );
      // Leave no half-started batch: the retry starts the whole request on the next token.
      await stopTasks(deps, cluster, taskArns);
      throw new TaskStartError(
        `RunTask started ${taskArns.length} of ${count} tasks: ${reasons.join('; ') || 'no reason given'}`,
      );
    }
    return { taskArns, clientToken, adopted: false };
  }
  throw new TaskStartError(
    `RunTask: all ${MAX_RUN_TASK_TOKENS} client tokens of request ${request.tokenBase} were used by failed starts; send a new event`,
  );
}
