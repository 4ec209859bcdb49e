import { DeleteNetworkInterfaceCommand, ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { describeError, isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import {
  type CompletionOutcome,
  completeLifecycleAction,
  type LifecycleAction,
} from '@netkit/aws-core/lifecycle';
import { type Deadlines, type Deps, describeOwnInterfaces, Run } from './run.ts';

export interface TerminateReport {
  status: 'done';
  instanceId: string;
  result: 'CONTINUE';
  /** Attached ENIs of ours that lacked DeleteOnTermination and now have it (EC2 deletes them with the instance). */
  markedForDeletion: string[];
  /** Unattached ENIs of ours for this instance, deleted now. */
  deleted: string[];
  /** Problems logged; the sweeper is the backstop. Termination is never held up. */
  errors: string[];
  completion: CompletionOutcome;
}

/**
 * Terminate lifecycle action (optional hook): no ENI of ours may outlive the
 * instance. Attached ones without DeleteOnTermination get it (EC2 then deletes
 * them with the instance, no detach needed); unattached ones for this instance
 * are deleted. Always completes CONTINUE: a termination is never blocked.
 */
export async function handleTerminate(
  action: LifecycleAction,
  deps: Deps,
  deadlines: Deadlines,
): Promise<TerminateReport> {
  const run = new Run(deps, action, deadlines, Number.POSITIVE_INFINITY);
  const report: Omit<TerminateReport, 'completion'> = {
    status: 'done',
    instanceId: action.instanceId,
    result: 'CONTINUE',
    markedForDeletion: [],
    deleted: [],
    errors: [],
  };
  try {
    for (const eni of await describeOwnInterfaces(run, action.instanceId)) {
      const id = eni.NetworkInterfaceId!;
      try {
        const attachment = eni.Attachment;
        if (attachment?.InstanceId === action.instanceId && attachment.AttachmentId) {
          if (attachment.DeleteOnTermination === true) continue;
          await run.call(
            'ModifyNetworkInterfaceAttribute',
            () =>
              deps.ec2.send(
                new ModifyNetworkInterfaceAttributeCommand({
                  NetworkInterfaceId: id,
                  Attachment: { AttachmentId: attachment.AttachmentId, DeleteOnTermination: true },
                }),
              ),
            ['InvalidAttachmentID.NotFound'],
          );
          report.markedForDeletion.push(id);
        } else if (eni.Status === 'available') {
          await run.call('DeleteNetworkInterface', () =>
            deps.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })),
          );
          report.deleted.push(id);
        }
      } catch (error) {
        if (isNotFoundError(error)) continue;
        if (isAwsError(error, 'InvalidNetworkInterface.InUse')) continue;
        report.errors.push(`${id}: ${describeError(error)}`);
      }
    }
  } catch (error) {
    report.errors.push(describeError(error));
  }
  if (report.errors.length > 0) {
    deps.logger.error('Could not clean up every interface of the terminating instance; the sweeper will', {
      instanceId: action.instanceId,
      errors: report.errors,
    });
  } else {
    deps.logger.info('Terminating instance has no interface of ours left without DeleteOnTermination', {
      instanceId: action.instanceId,
      markedForDeletion: report.markedForDeletion,
      deleted: report.deleted,
    });
  }
  const completion = await run.call(
    'CompleteLifecycleAction',
    () => completeLifecycleAction(deps.autoscaling, action, 'CONTINUE', deps.logger),
    [],
    deadlines.finish,
  );
  return { ...report, completion };
}
