import { describeError, NetkitError } from '@netkit/aws-core/errors';

/**
 * A failure that no retry can fix for this launch (the pool stayed empty, the
 * instance type has no room for another interface, the device index is used by
 * something else). Lambda mode answers ABANDON; the agent exits non-zero.
 */
export class PermanentAllocationError extends NetkitError {}

/** No free pool ENI in the instance's Availability Zone before the deadline. */
export class PoolExhaustedError extends PermanentAllocationError {
  constructor(
    message: string,
    readonly availabilityZone: string,
  ) {
    super(message);
  }
}

/** The instance already has a non-pool interface at the configured device index. */
export class DeviceIndexTakenError extends PermanentAllocationError {}

/** The instance type cannot take another network interface. */
export class AttachmentLimitError extends PermanentAllocationError {}

/** No network interface is attached to the instance: it does not exist (any more) or is not in this Region. */
export class InstanceNotFoundError extends PermanentAllocationError {}

/**
 * The device index was taken, but EC2's (eventually consistent) Describe does not show by whom
 * yet: most likely a concurrent delivery of the same event won. aws-core's, shared by every hook
 * package: not permanent, the invocation fails, Lambda retries the event, and the retry finds the
 * ENI held (never ABANDON).
 */
export { RaceUnsettledError } from '@netkit/aws-core/errors';

/**
 * The attachment did not reach `attached` in time. `claim` is the attachment left in place when
 * the caller asked to undo it itself (`deferUndo`), after completing ABANDON; otherwise the ENI
 * was detached again.
 */
export class AttachTimeoutError extends NetkitError {
  constructor(
    message: string,
    readonly claim?: Claimed,
  ) {
    super(message);
  }
}

/** A pool ENI this invocation attached to an instance: what undoing the attachment needs. */
export interface Claimed {
  networkInterfaceId: string;
  attachmentId: string;
  instanceId: string;
}

/** The instance metadata service could not be reached or refused the session. */
export class ImdsUnreachableError extends NetkitError {}

/** The agent's command line is wrong (the agent exits with EXIT.USAGE). */
export class UsageError extends NetkitError {}

/**
 * A loggable line for any error: our own errors by their message (their class
 * names do not survive minification in aws-core), AWS errors as `Name: message`.
 */
export function explain(error: unknown): string {
  return error instanceof NetkitError ? error.message : describeError(error);
}
