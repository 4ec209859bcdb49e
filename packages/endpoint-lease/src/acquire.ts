import type { Deadline } from '@netkit/aws-core/retry';
import { checkContainers } from './check-containers.ts';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { checkEndpointPreconditions } from './create-stack.ts';
import { EndpointStackFailedError } from './errors.ts';
import type { AcquireRequest } from './event.ts';
import { iso, startedByFor } from './lease.ts';
import { stackPhase } from './policy.ts';
import { startTasks, stopTasks } from './run-task.ts';
import { describeStack, type StackView } from './stack.ts';
import { StackReadiness } from './stack-readiness.ts';

export type AcquireResult = Awaited<ReturnType<typeof acquire>>;

export async function acquire(
  request: AcquireRequest,
  deps: AcquireHandlerDeps,
  config: Config,
  deadline: Deadline,
  requestId: string,
) {
  const started = deps.clock.now();
  // Read-only checks first: a refused request must not write a lease or create a stack that bills an hour.
  await checkContainers(deps.ecs, config, request);
  const checked = stackPhase((await describeStack(deps.cfn, config.stackName))?.status) !== 'stable';
  if (checked) await checkEndpointPreconditions(deps.ec2, config);
  const readiness = new StackReadiness(deps, config, deadline, requestId, checked);
  const stack = await readiness.run();
  const { taskArns, adopted, clientToken } = await startOnStack(request, deps, config, stack, requestId);
  deps.logger.info(adopted ? 'Tasks already started by an earlier invocation' : 'Tasks started', {
    taskArns,
    clientToken,
    created: readiness.created,
  });
  return {
    status: adopted ? ('already-done' as const) : ('done' as const),
    action: 'started' as const,
    taskArns,
    stackId: stack.stackId,
    leaseUntil: iso(readiness.leaseUntil),
    created: readiness.created,
    // The tasks were started by an earlier invocation of the same request.
    adopted,
    waitedMs: deps.clock.now() - started,
  };
}

/** Starts the tasks, then stops them and fails if the stack changed meanwhile: none may run without it. */
async function startOnStack(
  request: AcquireRequest,
  deps: AcquireHandlerDeps,
  config: Config,
  ready: StackView,
  requestId: string,
) {
  const started = await startTasks(deps, {
    input: {
      cluster: config.clusterArn,
      taskDefinition: config.taskDefinitionArn,
      launchType: 'FARGATE',
      count: request.count,
      startedBy: startedByFor(config.stackName),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: config.subnetIds,
          securityGroups: config.taskSecurityGroupIds,
          assignPublicIp: 'DISABLED',
        },
      },
      overrides: request.overrides,
    },
    // Every invocation of one request shares the token chain (ADR 0015).
    tokenBase: request.eventId ?? requestId,
    invocationRef: `acquire-${deps.clock.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
  });
  const after = await describeStack(deps.cfn, config.stackName);
  if (after?.stackId !== ready.stackId || stackPhase(after?.status) !== 'stable') {
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
