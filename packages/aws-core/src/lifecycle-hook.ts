import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { createClient } from './clients.ts';
import { LifecycleActionEndedError } from './errors.ts';
import {
  acceptLifecycleEvent,
  type CompletionOutcome,
  completeLifecycleAction,
  HeartbeatKeeper,
  isEnteringGroup,
  isNoActiveLifecycleAction,
  LIFECYCLE_ACTION_ENDED_METRIC,
  type LifecycleAction,
  type LifecycleResult,
  type RejectedEvent,
  recordLifecycleHeartbeat,
} from './lifecycle.ts';
import type { LifecycleScope } from './lifecycle-scope.ts';
import { createMetrics, type Metrics, MetricUnit } from './metrics.ts';
import { createObservability, type Logger } from './observability.ts';
import type { HandlerOutcome } from './outcome.ts';
import { awsCall, type Clock, Deadline, type LambdaContextLike, systemClock } from './retry.ts';

export interface HookDeps {
  autoscaling: AutoScalingClient;
  logger: Logger;
  clock: Clock;
  metrics: Pick<Metrics, 'addMetric' | 'addDimension' | 'publishStoredMetrics'>;
  random?: () => number;
}

/** What every lifecycle-hook entry builds once per container: logs, traces, the Auto Scaling client, metrics. */
export function hookEntryDeps(service: string) {
  const { logger, tracer } = createObservability(service);
  const autoscaling = createClient(AutoScalingClient, { tracer });
  return { logger, tracer, autoscaling, clock: systemClock, metrics: createMetrics(service) };
}

/** `work` bounds a verb's AWS work; `finish` (later) its clean-up and the completion. */
interface HookDeadlines {
  work: Deadline;
  finish: Deadline;
}

/** Work until `marginMs` before Lambda's end (at most `maxMs` from now); finish until 1 s before it. */
export function hookDeadlines(
  context: LambdaContextLike,
  clock: Clock,
  marginMs: number,
  maxMs?: number,
): HookDeadlines {
  return {
    work: Deadline.fromContext(context, marginMs, clock, maxMs),
    finish: Deadline.fromContext(context, 1_000, clock),
  };
}

/** What a verb reports. The runner completes the action with `result` unless the verb completed it. */
type VerbReport = HandlerOutcome & { instanceId: string; result?: LifecycleResult };

/** What a report becomes once the runner has completed the action. */
type HookReport<R extends VerbReport> = R & { completion?: CompletionOutcome };

/** A launch into the warm pool, a terminate without a verb: completed CONTINUE, nothing else. */
type SkippedHook = HandlerOutcome<'skipped'> & { instanceId: string; reason: string };
/** The lifecycle action was over (late redelivery, hook timeout, another delivery): nothing completed. */
type EndedHook = HandlerOutcome<'ended'> & { instanceId: string; reason: string };

export type HookResult<R extends VerbReport> = HookReport<R> | SkippedHook | EndedHook | RejectedEvent;

/** One lifecycle action being handled: what a verb is given. */
export interface HookRun {
  readonly action: LifecycleAction;
  readonly deadlines: HookDeadlines;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: (() => number) | undefined;
  /** Records a heartbeat when one is due; throws LifecycleActionEndedError once the action is over. */
  beatIfDue(): Promise<void>;
  /** True once a heartbeat found the action over: stop. */
  readonly ended: boolean;
  /** One AWS call through `awsCall`, heartbeating in its waits, within `deadline` (default: work). */
  call<T>(what: string, fn: () => Promise<T>, transient?: readonly string[], deadline?: Deadline): Promise<T>;
  /** Complete now (before undoing something, say); otherwise the runner completes the report's `result`. */
  complete(result: LifecycleResult): Promise<CompletionOutcome>;
  /** Add a Count metric to this invocation's (published by the runner). */
  count(name: string, value?: number): void;
}

export interface LifecycleHook<R extends VerbReport> {
  scope: LifecycleScope;
  deadlines(context: LambdaContextLike, clock: Clock): HookDeadlines;
  heartbeatIntervalMs: number;
  /** `skip` completes a launch into the warm pool CONTINUE without calling `launch`. */
  warmPool: 'skip' | 'run';
  launch(run: HookRun): Promise<R>;
  /** Without it a terminate is completed CONTINUE and skipped. */
  terminate?(run: HookRun): Promise<R>;
}

/**
 * The Lambda function of a lifecycle hook. It accepts the event (scope included), applies the
 * warm-pool policy, checks once that a launch's action is live, keeps the heartbeat (paced by
 * the verb's waits), completes with retries, and publishes the standard metrics on every path
 * (`LaunchesContinued`/`LaunchesAbandoned`, `LifecycleActionEnded`, dimension AutoScalingGroupName).
 */
export function createLifecycleHandler<R extends VerbReport>(deps: HookDeps, hook: LifecycleHook<R>) {
  return async (event: unknown, context: LambdaContextLike): Promise<HookResult<R>> => {
    const action = acceptLifecycleEvent(event, deps.logger, hook.scope);
    if ('status' in action) return action;
    let recorded = false;
    const count = (name: string, value = 1) => {
      if (!recorded) deps.metrics.addDimension('AutoScalingGroupName', action.groupName);
      recorded = true;
      deps.metrics.addMetric(name, MetricUnit.Count, value);
    };
    try {
      const result = await handle(deps, hook, action, hook.deadlines(context, deps.clock), count);
      if (result.status === 'ended' || ('completion' in result && result.completion === 'already-completed'))
        count(LIFECYCLE_ACTION_ENDED_METRIC);
      return result;
    } finally {
      if (recorded) deps.metrics.publishStoredMetrics();
    }
  };
}

async function handle<R extends VerbReport>(
  deps: HookDeps,
  hook: LifecycleHook<R>,
  action: LifecycleAction,
  deadlines: HookDeadlines,
  count: HookRun['count'],
): Promise<HookResult<R>> {
  const run = startRun(deps, action, deadlines, hook.heartbeatIntervalMs, count);
  const { instanceId } = action;
  const verb = action.kind === 'launch' ? hook.launch : hook.terminate;
  if (
    verb === undefined ||
    (action.kind === 'launch' && hook.warmPool === 'skip' && !isEnteringGroup(action))
  ) {
    await run.complete('CONTINUE');
    const reason = verb === undefined ? 'no terminate verb' : `launching into ${action.destination}`;
    deps.logger.info('Completed CONTINUE; nothing to do', { instanceId, reason });
    return { status: 'skipped', instanceId, reason };
  }
  const live = action.kind === 'terminate' || (await isLive(deps, action, deadlines.work));
  if (!live)
    return { status: 'ended', instanceId, reason: 'the lifecycle action is not active; nothing was changed' };
  try {
    const report: HookReport<R> = await verb.call(hook, run.view);
    if (run.completion === undefined && report.result !== undefined) await run.complete(report.result);
    if (run.completion !== undefined) report.completion = run.completion;
    if (action.kind === 'launch' && report.result !== undefined)
      count(report.result === 'CONTINUE' ? 'LaunchesContinued' : 'LaunchesAbandoned');
    return report;
  } catch (error) {
    if (!(error instanceof LifecycleActionEndedError)) throw error;
    deps.logger.error('The lifecycle action ended while working; stopped', {
      instanceId,
      reason: error.message,
    });
    return { status: 'ended', instanceId, reason: error.message };
  }
}

/** One heartbeat (which restarts the hook's timer) tells whether the action is still live. */
async function isLive(deps: HookDeps, action: LifecycleAction, deadline: Deadline): Promise<boolean> {
  const { clock, logger, random } = deps;
  try {
    const beat = () => recordLifecycleHeartbeat(deps.autoscaling, action);
    await awsCall('RecordLifecycleActionHeartbeat', beat, { deadline, clock, random, logger });
    return true;
  } catch (error) {
    if (!isNoActiveLifecycleAction(error)) throw error;
    logger.warn('Lifecycle action is not active (completed, abandoned, timed out, or not this instance)', {
      instanceId: action.instanceId,
      hookName: action.hookName,
    });
    return false;
  }
}

/** The run a verb sees, with the heartbeat keeper behind it and the completion it made. */
function startRun(
  deps: HookDeps,
  action: LifecycleAction,
  deadlines: HookDeadlines,
  intervalMs: number,
  count: HookRun['count'],
) {
  const { autoscaling, clock, logger, random } = deps;
  const keeper = new HeartbeatKeeper(autoscaling, action, { intervalMs, clock, logger });
  const state: { completion?: CompletionOutcome } = {};
  const view: HookRun = {
    action,
    deadlines,
    logger,
    clock,
    random,
    beatIfDue: () => keeper.beatIfDue(),
    get ended() {
      return keeper.ended;
    },
    call: (what, fn, transient = [], deadline = deadlines.work) =>
      awsCall(what, fn, { deadline, clock, random, transient, logger, onWait: () => keeper.beatIfDue() }),
    complete: async (result) => {
      state.completion = await awsCall(
        'CompleteLifecycleAction',
        () => completeLifecycleAction(autoscaling, action, result, logger),
        { deadline: deadlines.finish, clock, random, logger },
      );
      return state.completion;
    },
    count,
  };
  return {
    view,
    complete: view.complete,
    get completion() {
      return state.completion;
    },
  };
}
