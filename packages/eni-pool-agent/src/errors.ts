import { describeError, NetkitError } from '@netkit/aws-core/errors';

/** No retry can fix it for this launch: Lambda mode answers ABANDON; the agent exits non-zero. */
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

export class AttachmentLimitError extends PermanentAllocationError {}

/** The instance does not exist (any more) or is not in this Region. */
export class InstanceNotFoundError extends PermanentAllocationError {}

/** The attachment did not reach `attached` in time; `claim` is what the caller must undo (deferUndo). */
export class AttachTimeoutError extends NetkitError {
  constructor(
    message: string,
    readonly claim?: Claimed,
  ) {
    super(message);
  }
}

/** A pool ENI this invocation attached to an instance: what undoing the attachment needs. */
export type Claimed = { networkInterfaceId: string; attachmentId: string; instanceId: string };

export class ImdsUnreachableError extends NetkitError {}

/** Our errors by their message (class names do not survive minification), AWS errors as `Name: message`. */
export function explain(error: unknown): string {
  return error instanceof NetkitError ? error.message : describeError(error);
}
