import { describeError, isTransientError, NetkitError } from '@netkit/aws-core/errors';

/**
 * An AWS call of one step failed for good (a non-transient error, or transient errors until the
 * deadline). The message names the step, so the FAILED reason says where the teardown stopped.
 */
export class StepFailedError extends NetkitError {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(
      `${step} failed: ${describeError(cause)}${isTransientError(cause) ? ' (a transient error, retried until the deadline)' : ''}`,
      { cause },
    );
  }
}
