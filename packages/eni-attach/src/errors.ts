import { NetkitError } from '@netkit/aws-core/errors';

/** A reason to give up on this launch for good: clean up, complete ABANDON. */
export class AbandonError extends NetkitError {}

/** A SUBNET_MAP / ATTACHMENTS entry that does not match EC2 (missing subnet, wrong AZ, foreign group). */
export class SubnetMapError extends NetkitError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid subnet map: ${problems.join('; ')}`);
  }
}
