import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { describeError, InvalidEventError } from '@netkit/aws-core/errors';
import type { Metrics } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import type { Clock } from '@netkit/aws-core/retry';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import { type AcquireResult, acquire } from './acquire.ts';
import type { Config } from './config.ts';
import { EndpointPreconditionError, TaskRejectedError } from './errors.ts';
import { parseAcquireEvent } from './event.ts';
/** What the acquire function is built from: the AWS clients, clock, logger and metrics. */
export interface AcquireHandlerDeps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); the entry passes the package's `createMetrics`. */
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

export type AcquireResponse = AcquireResult | { status: 'rejected'; reason: string };

export function createAcquireHandler(deps: AcquireHandlerDeps, config: Config) {
  return async (event: unknown, context: LambdaContextLike): Promise<AcquireResponse> => {
    let request: ReturnType<typeof parseAcquireEvent>;
    try {
      request = parseAcquireEvent(event, { acceptedSources: config.acceptedSources });
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      deps.logger.error('Rejected acquire event', { reason: error.message, field: error.field });
      return { status: 'rejected', reason: error.message };
    }
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
    try {
      return await acquire(
        request,
        deps,
        config,
        deadline,
        context.awsRequestId ?? `acquire-${deps.clock.now()}`,
      );
    } catch (error) {
      // Requests that can never succeed are answered, not thrown: a Lambda retry would only write
      // more leases (and could create a stack that bills an hour) for the same refusal.
      if (
        error instanceof InvalidEventError ||
        error instanceof TaskRejectedError ||
        error instanceof EndpointPreconditionError
      ) {
        deps.logger.error('Rejected acquire request', { reason: error.message, kind: error.name });
        return { status: 'rejected', reason: error.message };
      }
      deps.logger.error('Acquire failed', { error: describeError(error) });
      throw error;
    }
  };
}
