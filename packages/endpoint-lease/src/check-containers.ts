import { DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { echo, InvalidEventError } from '@netkit/aws-core/errors';
import type { Config } from './config.ts';
import { type AcquireRequest, taskSizeProblem } from './event.ts';

interface TaskDefinitionFacts {
  names: Set<string>;
  cpu: string | undefined;
  memory: string | undefined;
}

/** Per client, facts of revision-pinned task definitions (immutable; a family name may move). */
const factsByClient = new WeakMap<ECSClient, Map<string, TaskDefinitionFacts>>();

async function taskDefinitionFacts(ecs: ECSClient, arn: string): Promise<TaskDefinitionFacts> {
  const cache = factsByClient.get(ecs) ?? new Map<string, TaskDefinitionFacts>();
  factsByClient.set(ecs, cache);
  const cached = cache.get(arn);
  if (cached !== undefined) return cached;
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
  const facts = {
    names: new Set((taskDefinition?.containerDefinitions ?? []).flatMap((c) => (c.name ? [c.name] : []))),
    cpu: taskDefinition?.cpu,
    memory: taskDefinition?.memory,
  };
  if (/:\d+$/.test(arn)) cache.set(arn, facts);
  return facts;
}

/** Overrides must name containers of the task definition, and a lone cpu or memory must make a task size. */
export async function checkContainers(ecs: ECSClient, config: Config, request: AcquireRequest) {
  const wanted = request.overrides?.containerOverrides?.map((c) => c.name) ?? [];
  const { cpu, memory } = request.overrides ?? {};
  const oneSize = (cpu === undefined) !== (memory === undefined);
  if (wanted.length === 0 && !oneSize) return;
  const arn = config.taskDefinitionArn;
  const facts = await taskDefinitionFacts(ecs, arn);
  const unknown = wanted.find((n) => !facts.names.has(n));
  if (unknown !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides.containerOverrides names ${echo(unknown)}, which is not a container of ${arn} (containers: ${[...facts.names].join(', ')})`,
      'overrides.containerOverrides',
    );
  }
  const problem = oneSize ? taskSizeProblem(cpu ?? facts.cpu, memory ?? facts.memory) : undefined;
  if (problem !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides must make a Fargate task size with ${arn}: ${problem}`,
      cpu === undefined ? 'overrides.memory' : 'overrides.cpu',
    );
  }
}
