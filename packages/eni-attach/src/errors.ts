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

/** May clear by itself (deadline, throttling, a pending instance, an unsettled race): redelivered. */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof DeadlineExceededError || error instanceof RaceUnsettledError) return true;
  if (error instanceof NetkitError) return false;
  if (isThrottlingError(error) || isServerFault(error)) return true;
  if (isAwsError(error, 'IncorrectInstanceState')) return true;
  return (error as { $fault?: unknown } | undefined)?.$fault !== 'client';
}
