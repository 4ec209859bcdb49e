/** DeleteStack; after DELETE_ATTEMPTS failed deletes it retains what is stuck (ADR 0045). */
import { MetricUnit } from '@netkit/aws-core/metrics';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { deleteStack, failedDeletes, type StackView, stuckResources } from './stack.ts';

/** DeleteStack for a stack in any deletable state; returns the logical ids it had to retain. */
export async function removeStack(deps: AcquireHandlerDeps, config: Config, stack: StackView) {
  if (stack.status !== 'DELETE_FAILED') {
    await deleteStack(deps.cfn, config.stackName);
    return [];
  }
  const failures = await failedDeletes(deps.cfn, stack.stackId);
  deps.metrics.addMetric('EndpointStackDeleteFailed', MetricUnit.Count, 1);
  deps.metrics.publishStoredMetrics();
  const facts = { stackName: config.stackName, stackId: stack.stackId, failedDeletes: failures };
  if (failures < config.deleteAttempts) {
    deps.logger.error('Endpoint stack failed to delete; deleting it again (it bills until gone)', {
      ...facts,
      deleteAttempts: config.deleteAttempts,
    });
    await deleteStack(deps.cfn, stack.stackId);
    return [];
  }
  const stuck = await stuckResources(deps.cfn, stack.stackId);
  deps.logger.error('Endpoint stack failed to delete too often; RETAINING what is stuck: delete it by hand', {
    ...facts,
    retained: stuck,
  });
  const retained = stuck.map((r) => r.logicalId);
  await deleteStack(deps.cfn, stack.stackId, retained);
  deps.metrics.addMetric('EndpointStackResourcesRetained', MetricUnit.Count, stuck.length);
  deps.metrics.publishStoredMetrics();
  return retained;
}
