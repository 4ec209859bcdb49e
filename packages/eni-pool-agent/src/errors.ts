import { NetkitError } from '@netkit/aws-core/errors';

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

/** The attachment did not reach `attached` in time (the ENI was detached again). */
export class AttachTimeoutError extends NetkitError {}
