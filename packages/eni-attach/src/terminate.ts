import type { EC2Client } from '@aws-sdk/client-ec2';
import { describeError, isNotFoundError } from '@netkit/aws-core/errors';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import { deleteInterface } from './delete-interface.ts';
import { describeOwnInterfaces, ensureDeleteOnTermination } from './interfaces.ts';

export type TerminateReport = HandlerOutcome<'done'> & {
  instanceId: string;
  result: 'CONTINUE';
  /** Attached ENIs of ours that lacked DeleteOnTermination and now have it. */
  markedForDeletion: string[];
  /** Unattached ENIs of ours for this instance, deleted now. */
  deleted: string[];
  /** Problems logged; the sweeper is the backstop. */
  errors: string[];
};

/**
 * Terminate: no ENI of ours outlives the instance. Attached ones get DeleteOnTermination,
 * unattached ones are deleted. Always CONTINUE: a termination is never held up.
 */
export async function handleTerminate(run: HookRun, ec2: EC2Client): Promise<TerminateReport> {
  const { instanceId } = run.action;
  const markedForDeletion: string[] = [];
  const deleted: string[] = [];
  const errors: string[] = [];
  try {
    for (const eni of await describeOwnInterfaces(run, ec2, instanceId)) {
      const id = eni.NetworkInterfaceId!;
      try {
        if (eni.Attachment?.InstanceId === instanceId) {
          if (await ensureDeleteOnTermination(run, ec2, eni)) markedForDeletion.push(id);
        } else if (eni.Status === 'available' && (await deleteInterface(run.call, ec2, id)) === 'deleted') {
          deleted.push(id);
        }
      } catch (error) {
        if (!isNotFoundError(error)) errors.push(`${id}: ${describeError(error)}`);
      }
    }
  } catch (error) {
    errors.push(describeError(error));
  }
  const log = { instanceId, markedForDeletion, deleted, errors };
  if (errors.length > 0)
    run.logger.error('Could not clean up every interface of the terminating instance', log);
  else run.logger.info('No interface of ours left without DeleteOnTermination', log);
  return { status: 'done', instanceId, result: 'CONTINUE', markedForDeletion, deleted, errors };
}
