/**
 * acquire: make sure the endpoint stack is ready, hold it with a lease, start the task(s).
 *
 * Order matters for lease safety (README, "Lease safety"): write the lease, read the reaper's
 * intent (wait while a fresh one exists), and only then trust a stack status seen as ready.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { DeadlineExceededError, echo, InvalidEventError } from '@netkit/aws-core/errors';
import type { Metrics } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { type Clock, type Deadline, pollUntil } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import { checkEndpointPreconditions, createStack } from './create-stack.ts';
import { removeStack } from './delete.ts';
import { EndpointStackFailedError } from './errors.ts';
import { type AcquireRequest, taskSizeProblem } from './event.ts';
import { readRecords, startedByFor, writeLease } from './lease.ts';
import { decide, policyConfig, stackPhase } from './policy.ts';
import { startTasks, stopTasks } from './run-task.ts';
import { describeStack, endpointIds, endpointsAvailable, type StackView } from './stack.ts';

export interface Deps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); absent in tests that do not look at them. */
  metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

export const MAX_STACK_REPLACEMENTS = 2;
/** RunTask must land this long before the lease ends, so the task is listed before the lease lapses. */
export const LEASE_MARGIN_MS = 60_000;

/** Margin kept before the lease end for RunTask: 60 s, or a quarter of a shorter lease. */
export function leaseMargin(config: Pick<Config, 'leaseMs'>): number {
  return Math.min(LEASE_MARGIN_MS, config.leaseMs / 4);
}

export interface AcquireResult extends HandlerOutcome<'done' | 'already-done'> {
  /** What happened to the request: the tasks run (started now, or by an earlier attempt: `adopted`). */
  action: 'started';
  taskArns: string[];
  stackId: string;
  leaseUntil: string;
  /** Whether this invocation created the stack. */
  created: boolean;
  /** True when an earlier invocation of the same request had started the tasks. */
  adopted: boolean;
  waitedMs: number;
}

async function holdLease(deps: Deps, config: Config, deadline: Deadline): Promise<number> {
  const until = deps.clock.now() + config.leaseMs;
  await writeLease(deps.ec2, config.vpcId, config.stackName, until);
  // Read the intent only after the lease is written: a reaper that announced a delete before our
  // write is seen here; one that announces later sees our lease.
  await pollUntil(
    async () => {
      const { intent } = await readRecords(deps.ec2, config.vpcId, config.stackName);
      if (intent === undefined || intent.expiresAt <= deps.clock.now()) return true;
      deps.logger.info('Reaper is deciding on a delete; waiting', { intentExpiresAt: intent.expiresAt });
      return undefined;
    },
    {
      deadline,
      clock: deps.clock,
      what: 'the reaper to finish its delete decision',
      baseMs: 500,
      maxMs: 5_000,
    },
  );
  return until;
}

export async function acquire(
  request: AcquireRequest,
  deps: Deps,
  config: Config,
  deadline: Deadline,
  requestId: string,
): Promise<AcquireResult> {
  const started = deps.clock.now();
  // Read-only checks first: a request RunTask would refuse, or a VPC that cannot hold the
  // endpoints, must not write a lease or create a stack that bills an hour.
  await checkContainers(deps, config, request);
  const initial = await describeStack(deps.cfn, config.stackName);
  const checked = stackPhase(initial?.status) !== 'stable';
  if (checked) await checkEndpointPreconditions(deps.ec2, config);
  const leaseUntil = await holdLease(deps, config, deadline);
  const readiness = new StackReadiness(deps, config, deadline, requestId, leaseUntil, checked);
  const ready = await readiness.run();
  const { taskArns, adopted } = await startOnStack(request, deps, config, ready, requestId);
  deps.logger.info(adopted ? 'Tasks already started by an earlier attempt' : 'Tasks started', {
    taskArns,
    created: readiness.created,
  });
  return {
    status: adopted ? 'already-done' : 'done',
    action: 'started',
    taskArns,
    stackId: ready.stackId,
    leaseUntil: new Date(readiness.leaseUntil).toISOString(),
    created: readiness.created,
    adopted,
    waitedMs: deps.clock.now() - started,
  };
}

/**
 * Drives the endpoint stack to ready under a held lease: creates it, replaces a failed one (at most
 * MAX_STACK_REPLACEMENTS times), waits out transitions and renews the lease when a wait outlives it.
 */
class StackReadiness {
  created = false;
  private replacements = 0;
  private creates = 0;

  constructor(
    private readonly deps: Deps,
    private readonly config: Config,
    private readonly deadline: Deadline,
    private readonly requestId: string,
    public leaseUntil: number,
    private checked: boolean,
  ) {}

  async run(): Promise<StackView> {
    const policy = policyConfig(this.config);
    for (;;) {
      if (this.deadline.expired())
        throw new DeadlineExceededError('Timed out waiting for the endpoint stack');
      const stack = await describeStack(this.deps.cfn, this.config.stackName);
      const now = this.deps.clock.now();
      const action = decide(
        { stack, leaseUntil: this.leaseUntil, activeTasks: 0, demand: true },
        now,
        policy,
      );
      if (action.kind === 'create') await this.create();
      else if (action.kind === 'delete') await this.replace(stack as StackView);
      else if (action.kind === 'wait') await this.waitToLeave(stack?.status);
      else if (action.kind === 'use') {
        const ready = await this.use(stack as StackView);
        if (ready !== undefined) return ready;
      }
      // 'none' and 'keep' cannot happen with demand; look again.
    }
  }

  private async create(): Promise<void> {
    const { config } = this;
    if (this.creates >= MAX_STACK_REPLACEMENTS + 1) {
      throw new EndpointStackFailedError(
        `Endpoint stack ${config.stackName} was created ${this.creates} times and never became ready; see its events`,
      );
    }
    this.creates++;
    if (!this.checked) {
      await checkEndpointPreconditions(this.deps.ec2, config);
      this.checked = true;
    }
    const mine = await createStack(this.deps, config, `${this.requestId}-${this.creates}`.slice(0, 128));
    this.created ||= mine;
    this.deps.logger.info(
      mine ? 'Creating endpoint stack' : 'Endpoint stack is being created by another invocation',
      { stackName: config.stackName },
    );
  }

  private async replace(stack: StackView): Promise<void> {
    const { config } = this;
    if (this.replacements >= MAX_STACK_REPLACEMENTS) {
      throw new EndpointStackFailedError(
        `Endpoint stack ${config.stackName} is in ${stack?.status} after ${this.replacements} replacements`,
      );
    }
    this.replacements++;
    this.deps.logger.warn('Replacing a failed endpoint stack', {
      stackName: config.stackName,
      status: stack?.status,
    });
    await removeStack(this.deps, config, stack);
  }

  private async waitToLeave(before: string | undefined): Promise<void> {
    const { cfn, clock } = this.deps;
    const { stackName } = this.config;
    await pollUntil(
      async () => {
        const now = await describeStack(cfn, stackName);
        return now?.status !== before || stackPhase(now?.status) === 'stable' ? true : undefined;
      },
      {
        deadline: this.deadline,
        clock,
        what: `endpoint stack ${stackName} to leave ${before}`,
        baseMs: 2_000,
        maxMs: 15_000,
      },
    );
  }

  /** The stack once its endpoints are available within the lease margin; undefined after renewing the lease. */
  private async use(stack: StackView): Promise<StackView | undefined> {
    const { deps, config } = this;
    const ids = endpointIds(stack);
    await pollUntil(async () => ((await endpointsAvailable(deps.ec2, ids)) ? true : undefined), {
      deadline: this.deadline,
      clock: deps.clock,
      what: `every endpoint of ${config.stackName} to be available`,
      baseMs: 2_000,
      maxMs: 15_000,
    });
    if (deps.clock.now() <= this.leaseUntil - leaseMargin(config)) return stack;
    // The wait outlived the lease margin: renew and look at the stack again.
    this.leaseUntil = await holdLease(deps, config, this.deadline);
    return undefined;
  }
}

/**
 * Starts the task(s) on the ready stack, then checks the stack is still the same and stable: if not,
 * stops them (nothing may run without its endpoints) and fails so the invocation is retried.
 */
async function startOnStack(
  request: AcquireRequest,
  deps: Deps,
  config: Config,
  ready: StackView,
  requestId: string,
): Promise<{ taskArns: string[]; adopted: boolean }> {
  const started = await startTasks(deps, {
    input: runTaskInput(request, config),
    // A retried invocation (same request id, or the same EventBridge event) adopts the tasks an
    // earlier invocation started, and never replays an earlier failed start (src/run-task.ts).
    tokenBase: request.eventId ?? requestId,
    invocationRef: invocationRef(deps.clock.now()),
  });
  const after = await describeStack(deps.cfn, config.stackName);
  if (after === undefined || after.stackId !== ready.stackId || stackPhase(after.status) !== 'stable') {
    deps.logger.error('Endpoint stack changed under the started tasks; stopping them', {
      status: after?.status,
    });
    await stopTasks(deps, config.clusterArn, started.taskArns);
    throw new EndpointStackFailedError(
      `Endpoint stack ${config.stackName} changed while tasks were starting`,
    );
  }
  return started;
}

/** What the overrides are checked against: the container names and the task size of the definition. */
interface TaskDefinitionFacts {
  names: Set<string>;
  cpu: string | undefined;
  memory: string | undefined;
}

/** Facts per task definition ARN, read once per client (a revision is immutable). */
const taskDefinitionsByClient = new WeakMap<ECSClient, Map<string, TaskDefinitionFacts>>();

async function taskDefinitionFacts(deps: Deps, config: Config): Promise<TaskDefinitionFacts> {
  let cache = taskDefinitionsByClient.get(deps.ecs);
  if (cache === undefined) {
    cache = new Map();
    taskDefinitionsByClient.set(deps.ecs, cache);
  }
  let facts = cache.get(config.taskDefinitionArn);
  if (facts === undefined) {
    const out = await deps.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: config.taskDefinitionArn }),
    );
    facts = {
      names: new Set(
        (out.taskDefinition?.containerDefinitions ?? [])
          .map((c) => c.name)
          .filter((n): n is string => typeof n === 'string'),
      ),
      cpu: out.taskDefinition?.cpu,
      memory: out.taskDefinition?.memory,
    };
    // Only a revision-pinned ARN is immutable; a family name may move to a new revision.
    if (/:\d+$/.test(config.taskDefinitionArn)) cache.set(config.taskDefinitionArn, facts);
  }
  return facts;
}

/**
 * Container overrides must name containers of the task definition (RunTask refuses others), and a
 * cpu or memory override given alone must make a Fargate task size with the definition's other value.
 */
async function checkContainers(deps: Deps, config: Config, request: AcquireRequest) {
  const wanted = request.overrides?.containerOverrides?.map((c) => c.name) ?? [];
  const { cpu, memory } = request.overrides ?? {};
  const oneSize = (cpu === undefined) !== (memory === undefined);
  if (wanted.length === 0 && !oneSize) return;
  const facts = await taskDefinitionFacts(deps, config);
  const unknown = wanted.find((n) => !facts.names.has(n));
  if (unknown !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides.containerOverrides names ${echo(unknown)}, which is not a container of ${config.taskDefinitionArn} (containers: ${[...facts.names].join(', ')})`,
      'overrides.containerOverrides',
    );
  }
  const problem = oneSize ? taskSizeProblem(cpu ?? facts.cpu, memory ?? facts.memory) : undefined;
  if (problem !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides must make a Fargate task size with ${config.taskDefinitionArn}: ${problem}`,
      cpu === undefined ? 'overrides.memory' : 'overrides.cpu',
    );
  }
}

/** RunTask referenceId unique to one invocation: epoch ms and a random part. */
function invocationRef(now: number): string {
  return `acquire-${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function runTaskInput(request: AcquireRequest, config: Config) {
  return {
    cluster: config.clusterArn,
    taskDefinition: config.taskDefinitionArn,
    launchType: 'FARGATE' as const,
    count: request.count,
    startedBy: startedByFor(config.stackName),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: config.subnetIds,
        securityGroups: config.taskSecurityGroupIds,
        assignPublicIp: 'DISABLED' as const,
      },
    },
    overrides: request.overrides,
  };
}
