import { describeError, NetkitError } from '@netkit/aws-core/errors';

// Names are spelled out: the bundles are minified, and `new.target.name` would be mangled.

/**
 * A failure that no retry can fix for this launch (the pool stayed empty, the
 * instance type has no room for another interface, the device index is used by
 * something else). Lambda mode answers ABANDON; the agent exits non-zero.
 */
export class PermanentAllocationError extends NetkitError {
  override name = 'PermanentAllocationError';
}

/** No free pool ENI in the instance's Availability Zone before the deadline. */
export class PoolExhaustedError extends PermanentAllocationError {
  override name = 'PoolExhaustedError';
  constructor(
    message: string,
    readonly availabilityZone: string,
  ) {
    super(message);
  }
}

/** The instance already has a non-pool interface at the configured device index. */
export class DeviceIndexTakenError extends PermanentAllocationError {
  override name = 'DeviceIndexTakenError';
}

/** The instance type cannot take another network interface. */
export class AttachmentLimitError extends PermanentAllocationError {
  override name = 'AttachmentLimitError';
}

/** No network interface is attached to the instance: it does not exist (any more) or is not in this Region. */
export class InstanceNotFoundError extends PermanentAllocationError {
  override name = 'InstanceNotFoundError';
}

/**
 * The device index was taken, but EC2's (eventually consistent) Describe does not show by whom
 * yet: most likely a concurrent delivery of the same event won. Not permanent: the invocation
 * fails, Lambda retries the event, and the retry finds the ENI held (never ABANDON).
 */
export class RaceUnsettledError extends NetkitError {
  override name = 'RaceUnsettledError';
}

/** The attachment did not reach `attached` in time (the ENI was detached again). */
export class AttachTimeoutError extends NetkitError {
  override name = 'AttachTimeoutError';
}

/**
 * A loggable line for any error: our own errors by their message (their class
 * names do not survive minification in aws-core), AWS errors as `Name: message`.
 */
export function explain(error: unknown): string {
  return error instanceof NetkitError ? error.message : describeError(error);
}
