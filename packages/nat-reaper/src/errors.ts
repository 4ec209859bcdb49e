import { describeError, isTransientError, NetkitError } from '@netkit/aws-core/errors';

/** An AWS call failed for good; the message names the step, so the FAILED reason says where it stopped. */
export class StepFailedError extends NetkitError {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    const retried = isTransientError(cause) ? ' (a transient error, retried until the deadline)' : '';
    super(`${step} failed: ${describeError(cause)}${retried}`, { cause });
  }
}
