/**
 * acquire: make sure the endpoint stack is ready, hold it with a lease, start the task(s).
 *
 * Order matters for lease safety (README, "Lease safety"): write the lease, read the reaper's
 * intent (wait while a fresh one exists), and only then trust a stack status seen as ready.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { DeadlineExceededError, echo, InvalidEventError, NetkitError } from '@netkit/aws-core/errors';
import type { Metrics } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, type Deadline, pollUntil } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import { removeStack } from './delete.ts';
import type { AcquireRequest } from './event.ts';
import { readRecords, writeLease } from './lease.ts';
import { decide, type PolicyConfig, stackPhase } from './policy.ts';
import { startTasks, stopTasks } from './run-task.ts';
import {
  checkEndpointPreconditions,
  createStack,
  describeStack,
  endpointIds,
  endpointsAvailable,
  type StackView,
} from './stack.ts';

export interface Deps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); absent in tests that do not look at them. */
  metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

/** The stack kept failing (created and rolled back or failed to delete) within one acquire. */
export class EndpointStackFailedError extends NetkitError {}

export const MAX_STACK_REPLACEMENTS = 2;
/** RunTask must land this long before the lease ends, so the task is listed before the lease lapses. */
export const LEASE_MARGIN_MS = 60_000;

/** Margin kept before the lease end for RunTask: 60 s, or a quarter of a shorter lease. */
export function leaseMargin(config: Pick<Config, 'leaseSeconds'>): number {
  return Math.min(LEASE_MARGIN_MS, (config.leaseSeconds * 1000) / 4);
}

export function startedByFor(stackName: string): string {
  // startedBy: up to 128 letters, digits, hyphens, underscores and slashes.
  return `endpoint-lease/${stackName}`.slice(0, 128);
}

export function policyConfig(config: Config): PolicyConfig {
  return {
    deletePolicy: config.deletePolicy,
    billingGuardMs: config.billingGuardSeconds * 1000,
    billingAnchor: config.billingAnchor,
  };
}

export interface AcquireResult {
  status: 'started';
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
  const until = deps.clock.now() + config.leaseSeconds * 1000;
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
  const { clock, logger } = deps;
  const started = clock.now();
  const policy = policyConfig(config);
  // Read-only checks first: a request RunTask would refuse, or a VPC that cannot hold the
  // endpoints, must not write a lease or create a stack that bills an hour.
  await checkContainers(deps, config, request);
  let checked = false;
  const initial = await describeStack(deps.cfn, config.stackName);
  if (stackPhase(initial?.status) !== 'stable') {
    await checkEndpointPreconditions(deps.ec2, config);
    checked = true;
  }
  let leaseUntil = await holdLease(deps, config, deadline);
  let created = false;
  let replacements = 0;
  let creates = 0;
  let ready: StackView | undefined;

  while (ready === undefined) {
    if (deadline.expired()) throw new DeadlineExceededError('Timed out waiting for the endpoint stack');
    const stack = await describeStack(deps.cfn, config.stackName);
    const action = decide({ stack, leaseUntil, activeTasks: 0, demand: true }, clock.now(), policy);
    switch (action.kind) {
      case 'create': {
        if (creates >= MAX_STACK_REPLACEMENTS + 1) {
          throw new EndpointStackFailedError(
            `Endpoint stack ${config.stackName} was created ${creates} times and never became ready; see its events`,
          );
        }
        creates++;
        if (!checked) {
          await checkEndpointPreconditions(deps.ec2, config);
          checked = true;
        }
        const mine = await createStack(deps, config, `${requestId}-${creates}`.slice(0, 128));
        created ||= mine;
        logger.info(
          mine ? 'Creating endpoint stack' : 'Endpoint stack is being created by another invocation',
          {
            stackName: config.stackName,
          },
        );
        break;
      }
      case 'delete': {
        if (replacements >= MAX_STACK_REPLACEMENTS) {
          throw new EndpointStackFailedError(
            `Endpoint stack ${config.stackName} is in ${stack?.status} after ${replacements} replacements`,
          );
        }
        replacements++;
        logger.warn('Replacing a failed endpoint stack', {
          stackName: config.stackName,
          status: stack?.status,
        });
        await removeStack(deps, config, stack as StackView);
        break;
      }
      case 'wait': {
        const before = stack?.status;
        await pollUntil(
          async () => {
            const now = await describeStack(deps.cfn, config.stackName);
            return now?.status !== before || stackPhase(now?.status) === 'stable' ? true : undefined;
          },
          {
            deadline,
            clock,
            what: `endpoint stack ${config.stackName} to leave ${before}`,
            baseMs: 2_000,
            maxMs: 15_000,
          },
        );
        break;
      }
      case 'use': {
        const s = stack as StackView;
        const ids = endpointIds(s);
        await pollUntil(async () => ((await endpointsAvailable(deps.ec2, ids)) ? true : undefined), {
          deadline,
          clock,
          what: `every endpoint of ${config.stackName} to be available`,
          baseMs: 2_000,
          maxMs: 15_000,
        });
        if (clock.now() > leaseUntil - leaseMargin(config)) {
          // The wait outlived the lease margin: renew and look at the stack again.
          leaseUntil = await holdLease(deps, config, deadline);
          break;
        }
        ready = s;
        break;
      }
      default:
        // 'none' and 'keep' cannot happen with demand; look again.
        break;
    }
  }

  const { taskArns, adopted } = await startTasks(deps, {
    input: runTaskInput(request, config),
    // A retried invocation (same request id, or the same EventBridge event) adopts the tasks an
    // earlier invocation started, and never replays an earlier failed start (src/run-task.ts).
    tokenBase: request.eventId ?? requestId,
    invocationRef: invocationRef(clock.now()),
  });
  // Defence in depth: the stack must still be there after RunTask. If not, stop the tasks
  // (nothing may run without its endpoints) and fail so the invocation is retried.
  const after = await describeStack(deps.cfn, config.stackName);
  if (after === undefined || after.stackId !== ready.stackId || stackPhase(after.status) !== 'stable') {
    logger.error('Endpoint stack changed under the started tasks; stopping them', { status: after?.status });
    await stopTasks(deps, config.clusterArn, taskArns);
    throw new EndpointStackFailedError(
      `Endpoint stack ${config.stackName} changed while tasks were starting`,
    );
  }
  logger.info(adopted ? 'Tasks already started by an earlier attempt' : 'Tasks started', {
    taskArns,
    created,
  });
  return {
    status: 'started',
    taskArns,
    stackId: ready.stackId,
    leaseUntil: new Date(leaseUntil).toISOString(),
    created,
    adopted,
    waitedMs: clock.now() - started,
  };
}

/** Container names per task definition ARN, read once per client (a revision is immutable). */
const containerNamesByClient = new WeakMap<ECSClient, Map<string, Set<string>>>();

/** Container overrides must name containers of the task definition (RunTask refuses others). */
async function checkContainers(deps: Deps, config: Config, request: AcquireRequest) {
  const wanted = request.overrides?.containerOverrides?.map((c) => c.name) ?? [];
  if (wanted.length === 0) return;
  let cache = containerNamesByClient.get(deps.ecs);
  if (cache === undefined) {
    cache = new Map();
    containerNamesByClient.set(deps.ecs, cache);
  }
  let names = cache.get(config.taskDefinitionArn);
  if (names === undefined) {
    const out = await deps.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: config.taskDefinitionArn }),
    );
    names = new Set(
      (out.taskDefinition?.containerDefinitions ?? [])
        .map((c) => c.name)
        .filter((n): n is string => typeof n === 'string'),
    );
    // Only a revision-pinned ARN is immutable; a family name may move to a new revision.
    if (/:\d+$/.test(config.taskDefinitionArn)) cache.set(config.taskDefinitionArn, names);
  }
  const unknown = wanted.find((n) => !names.has(n));
  if (unknown !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides.containerOverrides names ${echo(unknown)}, which is not a container of ${config.taskDefinitionArn} (containers: ${[...names].join(', ')})`,
      'overrides.containerOverrides',
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
