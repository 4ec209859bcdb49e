import { DisassociateAddressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isNotFoundError } from '@netkit/aws-core/errors';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import { type PoolGauge, recordPoolGauge } from '@netkit/aws-core/metrics';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { describePool } from './pool.ts';

/** The instance's pool EIPs this call released (none on a redelivery); the runner completes CONTINUE. */
export type TerminateOutcome = HandlerOutcome<'done'> & {
  instanceId: string;
  released: string[];
  pool: PoolGauge;
  result: 'CONTINUE';
};

/** Terminate: disassociate the instance's pool EIPs early, so that a replacement launch can take them. */
export async function releaseOnTerminate(
  run: HookRun,
  ec2: EC2Client,
  poolTags: Record<string, string>,
): Promise<TerminateOutcome> {
  const { instanceId, groupName } = run.action;
  const pool = await run.call('DescribeAddresses', () => describePool(ec2, poolTags));
  const released: string[] = [];
  for (const { allocationId, associationId, instanceId: holder } of pool.addresses) {
    if (holder !== instanceId || associationId === undefined) continue;
    const command = new DisassociateAddressCommand({ AssociationId: associationId });
    try {
      await run.call('DisassociateAddress', () => ec2.send(command));
      released.push(allocationId);
    } catch (error) {
      // Already disassociated (a concurrent duplicate, or the instance is gone).
      if (!isNotFoundError(error)) throw error;
    }
  }
  const log = { instanceId, groupName, released };
  if (released.length > 0) run.logger.info('Released pool EIP from terminating instance', log);
  else run.logger.info('Terminating instance holds no pool EIP; nothing to release', log);
  const free = pool.free.length + released.length;
  const gauge = recordPoolGauge(run, { size: pool.addresses.length, free, exhausted: false });
  return { status: 'done', instanceId, released, pool: gauge, result: 'CONTINUE' };
}
