/**
 * RunTask with an idempotency token that never replays a known failure.
 *
 * ECS returns the original result for a repeated RunTask with the same clientToken and the same
 * parameters for 24 hours (per cluster), and ConflictException, naming the task ARNs the token
 * already started (`resourceIds`), when any parameter differs. A retried invocation that reused the
 * token of a failed start (capacity in `failures[]`, or tasks stopped because the endpoint stack
 * changed) would get that failure back forever.
 *
 * So every invocation sends a `referenceId` of its own with a chain of tokens derived from the
 * request id (`<id>`, `<id>-1`, `<id>-2`, ...):
 *
 * - ConflictException on a token: an earlier invocation of this request used it. Its tasks
 *   (`resourceIds`) decide: none started, or a task we stopped (`STOP_REASON`) or a partial batch
 *   -> a known failure, go on with the next token; otherwise that call started the whole batch ->
 *   adopt its tasks and start nothing new (its outcome was unknown to the invocation that made it).
 * - A normal answer: this invocation's own (fresh, or a replay of its own SDK retry). A start that
 *   fails here is reported (TaskStartError) and the Lambda retry moves past this token.
 *
 * Each invocation thus makes at most one new start attempt, and the Lambda retry delay is the
 * back-off a capacity shortage asks for.
 */
import {
  DescribeTasksCommand,
  type ECSClient,
  RunTaskCommand,
  type RunTaskCommandInput,
  type RunTaskCommandOutput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { describeError, isAwsError, isTransientError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { TaskRejectedError, TaskStartError } from './errors.ts';

/** A 4xx answer from ECS other than throttling: repeating the request cannot change it. */
export function isEcsClientRejection(error: unknown): boolean {
  if (isTransientError(error)) return false;
  const e = error as { $fault?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  if (e === null || typeof e !== 'object') return false;
  const status = e.$metadata?.httpStatusCode;
  return e.$fault === 'client' || (typeof status === 'number' && status >= 400 && status < 500);
}

/** The reason StopTask records for tasks this package stops; marks a failed start for later retries. */
export const STOP_REASON = 'endpoint-lease: endpoints unavailable';
/** Tokens one request may use (one new start per invocation; Lambda makes at most 3 invocations). */
export const MAX_RUN_TASK_TOKENS = 10;
/** RunTask clientToken: up to 64 ASCII characters in the range 33-126. */
const TOKEN_MAX = 64;

/** The nth token of a request's chain; the first is the request id itself. */
export function runTaskToken(base: string, attempt: number): string {
  const clean = base.replace(/[^\x21-\x7e]/g, '_') || 'endpoint-lease';
  if (attempt === 0) return clean.slice(0, TOKEN_MAX);
  const suffix = `-${attempt}`;
  return `${clean.slice(0, TOKEN_MAX - suffix.length)}${suffix}`;
}

export interface RunTaskDeps {
  ecs: ECSClient;
  logger: Logger;
}

export interface StartRequest {
  /** Everything but clientToken and referenceId, identical for every invocation of the request. */
  input: Omit<RunTaskCommandInput, 'clientToken' | 'referenceId'> & { cluster: string; count: number };
  /** EventBridge event id or Lambda request id: the same for every retry of the request. */
  tokenBase: string;
  /** Unique to this invocation (RunTask referenceId, up to 64 characters). */
  invocationRef: string;
}

export interface StartResult {
  taskArns: string[];
  /** The token whose call started the tasks. */
  clientToken: string;
  /** True when the tasks were started by an earlier invocation of the same request. */
  adopted: boolean;
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

type Earlier = { kind: 'adopt'; taskArns: string[] } | { kind: 'failed'; running: string[] };

/** Judge the tasks an earlier invocation's call with this token started. */
async function earlierOutcome(deps: RunTaskDeps, cluster: string, count: number, arns: string[]) {
  if (arns.length === 0) return { kind: 'failed', running: [] } satisfies Earlier;
  const out = await deps.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }));
  const tasks = out.tasks ?? [];
  const stoppedByUs = tasks.some((t) => t.desiredStatus === 'STOPPED' && t.stoppedReason === STOP_REASON);
  const running = tasks
    .filter((t) => t.desiredStatus !== 'STOPPED' && typeof t.taskArn === 'string')
    .map((t) => t.taskArn as string);
  if (stoppedByUs || arns.length < count) return { kind: 'failed', running } satisfies Earlier;
  // Started in full and not stopped by us: running, or it ran and ended on its own.
  return { kind: 'adopt', taskArns: arns } satisfies Earlier;
}

export async function startTasks(deps: RunTaskDeps, request: StartRequest): Promise<StartResult> {
  const { cluster, count } = request.input;
  for (let attempt = 0; attempt < MAX_RUN_TASK_TOKENS; attempt++) {
    const clientToken = runTaskToken(request.tokenBase, attempt);
    let out: RunTaskCommandOutput;
    try {
      out = await deps.ecs.send(
        new RunTaskCommand({ ...request.input, clientToken, referenceId: request.invocationRef }),
      );
    } catch (error) {
      if (!isAwsError(error, 'ConflictException')) {
        if (isEcsClientRejection(error)) {
          throw new TaskRejectedError(`RunTask refused the request: ${describeError(error)}`, {
            cause: error,
          });
        }
        throw error;
      }
      const arns = ((error as { resourceIds?: string[] }).resourceIds ?? []).filter(
        (a): a is string => typeof a === 'string',
      );
      const earlier = await earlierOutcome(deps, cluster, count, arns);
      if (earlier.kind === 'adopt') {
        deps.logger.info('An earlier invocation of this request started the tasks; not starting more', {
          clientToken,
          taskArns: earlier.taskArns,
        });
        return { taskArns: earlier.taskArns, clientToken, adopted: true };
      }
      // A known failed start: leave no half-started batch, then try the next token.
      await stopTasks(deps, cluster, earlier.running);
      deps.logger.info('Client token already used by a failed start; using the next one', {
        clientToken,
        startedTasks: arns.length,
      });
      continue;
    }
    const taskArns = (out.tasks ?? [])
      .map((t) => t.taskArn)
      .filter((a): a is string => typeof a === 'string');
    if (taskArns.length < count) {
      const reasons = (out.failures ?? []).map((f) =>
        `${f.arn ?? ''} ${f.reason ?? ''} ${f.detail ?? ''}`.trim(),
      );
      // Leave no half-started batch behind: the retry starts the whole request with a new token.
      await stopTasks(deps, cluster, taskArns);
      throw new TaskStartError(
        `RunTask started ${taskArns.length} of ${count} tasks: ${reasons.join('; ') || 'no reason given'}`,
      );
    }
    return { taskArns, clientToken, adopted: false };
  }
  throw new TaskStartError(
    `RunTask: all ${MAX_RUN_TASK_TOKENS} client tokens of request ${request.tokenBase} were used by failed starts; send a new event to try again`,
  );
}
