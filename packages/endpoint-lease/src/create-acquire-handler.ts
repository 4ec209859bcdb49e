import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { describeError, InvalidEventError } from '@netkit/aws-core/errors';
import type { Metrics } from '@netkit/aws-core/metrics';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import { acquire } from './acquire.ts';
import type { Config } from './config.ts';
import { EndpointPreconditionError, TaskRejectedError } from './errors.ts';
import { parseAcquireEvent } from './event.ts';

export interface AcquireHandlerDeps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

export function createAcquireHandler(deps: AcquireHandlerDeps, config: Config) {
  return async (event: unknown, context: LambdaContextLike) => {
    const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
    const requestId = context.awsRequestId ?? `acquire-${deps.clock.now()}`;
    try {
      const request = parseAcquireEvent(event, config.acceptedSources);
      return await acquire(request, deps, config, deadline, requestId);
    } catch (error) {
      // A request that can never succeed is answered, not retried into more leases and stacks (ADR 0046).
      if (
        error instanceof InvalidEventError ||
        error instanceof TaskRejectedError ||
        error instanceof EndpointPreconditionError
      ) {
        const field = error instanceof InvalidEventError ? error.field : undefined;
        deps.logger.error('Rejected acquire request', { reason: error.message, kind: error.name, field });
        return { status: 'rejected' as const, reason: error.message };
      }
      deps.logger.error('Acquire failed', { error: describeError(error) });
      throw error;
    }
  };
}
