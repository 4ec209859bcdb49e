import { isAwsError, isTransientError } from '@netkit/aws-core/errors';

/**
 * The AWS errors this package treats specially. It defines no error class of its own: every
 * failure is an AWS error (matched here by name) or an aws-core error (`DeadlineExceededError`).
 */

/**
 * AssociateAddress errors worth another try of the same call, besides throttling, 5xx and network
 * errors: a new instance EC2 does not fully know yet.
 */
export const ASSOCIATE_TRANSIENT = ['IncorrectInstanceState', 'InvalidInstanceID.NotFound'] as const;

/** An error that `retryTransient(..., { transient: ASSOCIATE_TRANSIENT })` retries. */
export function isAssociateTransient(error: unknown): boolean {
  return isTransientError(error) || isAwsError(error, ...ASSOCIATE_TRANSIENT);
}

/** Another launch took the candidate first, or it was released since we described the pool. */
export function isCandidateGone(error: unknown): boolean {
  return isAwsError(error, 'Resource.AlreadyAssociated', 'InvalidAllocationID.NotFound');
}

/**
 * AssociateAddress by InstanceId refused: the instance has more than one network interface (API
 * reference, AssociateAddress InstanceId: "The instance must have exactly one attached network
 * interface"; "There are multiple interfaces attached to instance"), or it is still `pending` ("The
 * pending instance 'i-…' is not in a valid state for this operation"). EC2 answers both with
 * `InvalidInstanceID`; both are answered the same way, by the primary interface's id (whose
 * `IncorrectInstanceState` while pending is retried), so the message is not read.
 */
export function isSeveralInterfaces(error: unknown): boolean {
  return isAwsError(error, 'InvalidInstanceID');
}
