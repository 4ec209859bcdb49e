import { describeError, InvalidEventError } from '@netkit/aws-core/errors';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import { acquire } from './acquire.ts';
import type { Config } from './config.ts';
import { EndpointPreconditionError, TaskRejectedError } from './errors.ts';
import { parseAcquireEvent } from './event.ts';
import type { LeaseDeps } from './runtime.ts';

export function createAcquireHandler(deps: LeaseDeps, config: Config) {
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
