/** DeleteStack; after DELETE_ATTEMPTS failed deletes it retains what is stuck (ADR 0045). */
import {
  type CloudFormationClient,
  DeleteStackCommand,
  DescribeStackResourcesCommand,
  paginateDescribeStackEvents,
} from '@aws-sdk/client-cloudformation';
import { MetricUnit } from '@netkit/aws-core/metrics';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import type { StackView } from './stack.ts';

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

/** RetainResources is valid only for a DELETE_FAILED stack, so it is sent only when given. */
async function deleteStack(cfn: CloudFormationClient, stackName: string, retain: string[] = []) {
  const RetainResources = retain.length > 0 ? retain : undefined;
  await cfn.send(new DeleteStackCommand({ StackName: stackName, RetainResources }));
}

/** How many times the stack's deletion has failed: its own DELETE_FAILED events (in a bounded read). */
async function failedDeletes(cfn: CloudFormationClient, stackId: string): Promise<number> {
  let count = 0;
  let pages = 0;
  for await (const page of paginateDescribeStackEvents({ client: cfn }, { StackName: stackId })) {
    for (const e of page.StackEvents ?? [])
      if (e.ResourceType === 'AWS::CloudFormation::Stack' && e.ResourceStatus === 'DELETE_FAILED') count++;
    if (++pages >= 10) break;
  }
  return count;
}

/** Resources a DELETE_FAILED stack still holds (everything not deleted or skipped). */
async function stuckResources(cfn: CloudFormationClient, stackId: string) {
  const out = await cfn.send(new DescribeStackResourcesCommand({ StackName: stackId }));
  return (out.StackResources ?? [])
    .filter((r) => r.ResourceStatus !== 'DELETE_COMPLETE' && r.ResourceStatus !== 'DELETE_SKIPPED')
    .filter((r) => typeof r.LogicalResourceId === 'string')
    .map((r) => ({
      logicalId: r.LogicalResourceId as string,
      physicalId: r.PhysicalResourceId,
      type: r.ResourceType,
      reason: r.ResourceStatusReason,
    }));
}
