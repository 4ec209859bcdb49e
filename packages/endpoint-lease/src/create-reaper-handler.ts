import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { describeError } from '@netkit/aws-core/errors';
import type { Metrics } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { Clock } from '@netkit/aws-core/retry';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import { type ReapResult, reap } from './reap.ts';

/** What the reaper function is built from: the same clients, clock, logger and metrics as acquire's. */
export interface ReaperHandlerDeps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF): the DELETE_FAILED count; the entry passes the package's `createMetrics`. */
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

/**
 * The reaper reads only the current state, so any event (schedule, ECS task state change,
 * manual invoke) triggers the same idempotent check.
 */
export function createReaperHandler(deps: ReaperHandlerDeps, config: Config) {
  return async (_event: unknown, context: LambdaContextLike): Promise<ReapResult> => {
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
    try {
      return await reap(deps, config, deadline, context.awsRequestId ?? `reaper-${deps.clock.now()}`);
    } catch (error) {
      deps.logger.error('Reaper failed', { error: describeError(error) });
      throw error;
    }
  };
}
