import { DescribeTaskDefinitionCommand, type ECSClient, type TaskDefinition } from '@aws-sdk/client-ecs';
import { echo, InvalidEventError } from '@netkit/aws-core/errors';
import type { Config } from './config.ts';
import { type AcquireRequest, taskSizeProblem } from './event.ts';

/** Per client, revision-pinned task definitions (immutable; a family name may move to a new revision). */
const definitionsByClient = new WeakMap<ECSClient, Map<string, TaskDefinition | undefined>>();

async function describeTaskDefinition(ecs: ECSClient, arn: string): Promise<TaskDefinition | undefined> {
  const cache = definitionsByClient.get(ecs) ?? new Map<string, TaskDefinition | undefined>();
  definitionsByClient.set(ecs, cache);
  if (cache.has(arn)) return cache.get(arn);
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
  if (/:\d+$/.test(arn)) cache.set(arn, taskDefinition);
  return taskDefinition;
}

/** Overrides must name containers of the task definition, and a lone cpu or memory must make a task size. */
export async function checkContainers(ecs: ECSClient, config: Config, request: AcquireRequest) {
  const wanted = request.overrides?.containerOverrides?.map((c) => c.name) ?? [];
  const { cpu, memory } = request.overrides ?? {};
  const oneSize = (cpu === undefined) !== (memory === undefined);
  if (wanted.length === 0 && !oneSize) return;
  const arn = config.taskDefinitionArn;
  const definition = await describeTaskDefinition(ecs, arn);
  const names = (definition?.containerDefinitions ?? []).map((c) => c.name);
  const unknown = wanted.find((n) => !names.includes(n));
  if (unknown !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides.containerOverrides names ${echo(unknown)}, not a container of ${arn} (${names.join(', ')})`,
      'overrides.containerOverrides',
    );
  }
  const problem = oneSize ? taskSizeProblem(cpu ?? definition?.cpu, memory ?? definition?.memory) : undefined;
  if (problem !== undefined) {
    throw new InvalidEventError(
      `Invalid acquire event: overrides must make a Fargate task size with ${arn}: ${problem}`,
      cpu === undefined ? 'overrides.memory' : 'overrides.cpu',
    );
  }
}
