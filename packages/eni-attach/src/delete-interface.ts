import { DeleteNetworkInterfaceCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError, isNotFoundError } from '@netkit/aws-core/errors';

// Its own module: the sweeper bundle shares it without carrying the launch's calls (iam-grants test).
/** Launch clean-up, terminate and sweeper alike: `in-use` when a (redelivered) launch attached it meanwhile. */
export async function deleteInterface(
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  ec2: EC2Client,
  id: string,
): Promise<'deleted' | 'gone' | 'in-use'> {
  try {
    await call('DeleteNetworkInterface', () =>
      ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })),
    );
    return 'deleted';
  } catch (error) {
    if (isNotFoundError(error)) return 'gone';
    if (isAwsError(error, 'InvalidNetworkInterface.InUse')) return 'in-use';
    throw error;
  }
}
