/**
 * Deleting the endpoint stack, with a bound on DELETE_FAILED.
 *
 * A stack whose deletion failed (DELETE_FAILED) keeps its endpoints, and they keep billing. Another
 * DeleteStack often succeeds (a dependency that was still in use has gone), so the first
 * `DELETE_ATTEMPTS` failures are retried; every failure is logged as an error and counted in the
 * `EndpointStackDeleteFailed` metric (the template alarms on it). Once the stack has failed to
 * delete `DELETE_ATTEMPTS` times, the next DeleteStack retains what is stuck (RetainResources, valid
 * only for a DELETE_FAILED stack), so the stack goes away and the next acquire starts clean. The
 * retained resources are named in an error log and the `EndpointStackResourcesRetained` metric:
 * they are outside the stack now and someone has to delete them.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { type Metrics, MetricUnit } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { Config } from './config.ts';
import { deleteStack, failedDeletes, type StackView, type StuckResource, stuckResources } from './stack.ts';

export const DELETE_FAILED_METRIC = 'EndpointStackDeleteFailed';
export const RETAINED_METRIC = 'EndpointStackResourcesRetained';

export interface DeleteDeps {
  cfn: CloudFormationClient;
  logger: Logger;
  metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

export interface RemoveResult {
  /** Failed deletes seen before this call (0 unless the stack was DELETE_FAILED). */
  failedDeletes: number;
  /** Resources this call's DeleteStack retained (left in the account, outside the stack). */
  retained: StuckResource[];
}

function count(deps: DeleteDeps, name: string, value: number) {
  if (deps.metrics === undefined) return;
  deps.metrics.addMetric(name, MetricUnit.Count, value);
  deps.metrics.publishStoredMetrics();
}

/** DeleteStack for a stack in any deletable state; a DELETE_FAILED one is bounded as above. */
export async function removeStack(
  deps: DeleteDeps,
  config: Pick<Config, 'stackName' | 'deleteAttempts'>,
  stack: Pick<StackView, 'stackId' | 'status'>,
): Promise<RemoveResult> {
  if (stack.status !== 'DELETE_FAILED') {
    await deleteStack(deps.cfn, config.stackName);
    return { failedDeletes: 0, retained: [] };
  }
  const failures = await failedDeletes(deps.cfn, stack.stackId);
  count(deps, DELETE_FAILED_METRIC, 1);
  if (failures < config.deleteAttempts) {
    deps.logger.error(
      'Endpoint stack failed to delete; deleting it again (its endpoints bill until it is gone)',
      {
        stackName: config.stackName,
        stackId: stack.stackId,
        failedDeletes: failures,
        deleteAttempts: config.deleteAttempts,
      },
    );
    await deleteStack(deps.cfn, stack.stackId);
    return { failedDeletes: failures, retained: [] };
  }
  const stuck = await stuckResources(deps.cfn, stack.stackId);
  deps.logger.error(
    'Endpoint stack failed to delete too often; deleting it and RETAINING the resources it could not delete. They are no longer part of any stack and may keep billing: delete them by hand',
    {
      stackName: config.stackName,
      stackId: stack.stackId,
      failedDeletes: failures,
      retained: stuck.map((r) => ({
        logicalId: r.logicalId,
        physicalId: r.physicalId,
        type: r.type,
        reason: r.reason,
      })),
    },
  );
  await deleteStack(
    deps.cfn,
    stack.stackId,
    stuck.map((r) => r.logicalId),
  );
  count(deps, RETAINED_METRIC, stuck.length);
  return { failedDeletes: failures, retained: stuck };
}
