import { isAwsError, isTransientError } from '@netkit/aws-core/errors';

// No error class of its own: AWS errors matched by name, and aws-core's errors.

/** AssociateAddress errors retried besides throttling, 5xx and network: a new instance EC2 does not fully know yet. */
export const ASSOCIATE_TRANSIENT = ['IncorrectInstanceState', 'InvalidInstanceID.NotFound'] as const;

/** An error that an AssociateAddress call with `ASSOCIATE_TRANSIENT` retries. */
export function isAssociateTransient(error: unknown): boolean {
  return isTransientError(error) || isAwsError(error, ...ASSOCIATE_TRANSIENT);
}

/** Another launch took the candidate first, or it was released since the pool was described. */
export function isCandidateGone(error: unknown): boolean {
  return isAwsError(error, 'Resource.AlreadyAssociated', 'InvalidAllocationID.NotFound');
}

/**
 * AssociateAddress by InstanceId refused: several interfaces, or a pending instance. EC2 answers
 * both with `InvalidInstanceID`, and both are answered by the primary interface's id (ADR 0085).
 */
export function isSeveralInterfaces(error: unknown): boolean {
  return isAwsError(error, 'InvalidInstanceID');
}
