import {
  DeadlineExceededError,
  isAwsError,
  isServerFault,
  isThrottlingError,
  NetkitError,
  RaceUnsettledError,
} from '@netkit/aws-core/errors';

/** A reason to give up on this launch for good: clean up, complete ABANDON. */
export class AbandonError extends NetkitError {}

/** A SUBNET_MAP / ATTACHMENTS entry that does not match EC2 (missing subnet, wrong AZ, foreign group). */
export class SubnetMapError extends NetkitError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid subnet map: ${problems.join('; ')}`);
  }
}

/**
 * True when the condition may clear by itself (deadline, throttling, a pending instance, a lost
 * race whose winner Describe does not list yet): rethrown so the event is redelivered. Client
 * faults and our own verdicts (AbandonError, SubnetMapError) are final.
 */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof DeadlineExceededError || error instanceof RaceUnsettledError) return true;
  if (error instanceof NetkitError) return false;
  if (isThrottlingError(error) || isServerFault(error)) return true;
  if (isAwsError(error, 'IncorrectInstanceState')) return true;
  return (error as { $fault?: unknown } | undefined)?.$fault !== 'client';
}
