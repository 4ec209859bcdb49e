import { AttachNetworkInterfaceCommand, type NetworkInterface } from '@aws-sdk/client-ec2';
import { isAwsError } from '@netkit/aws-core/errors';
import { settleRace } from '@netkit/aws-core/retry';
import type { AttachmentSpec } from './config.ts';
import { describeInstance, foreignAt } from './describe-instance.ts';
import { AbandonError } from './errors.ts';
import { attachedAt, describeOwnInterfaces } from './interfaces.ts';
import { deleteIfUnattached, keepInterface, type LaunchProgress } from './launch-progress.ts';
import { obtainInterface } from './obtain-interface.ts';

/** Create (or pick up) the ENI for one attachment, attach it, set DeleteOnTermination; the fresh listing. */
export async function attachInterface(
  p: LaunchProgress,
  spec: AttachmentSpec,
  subnetId: string,
  own: NetworkInterface[],
): Promise<NetworkInterface[]> {
  const { eni, source } = await obtainInterface(p, spec, subnetId, own);
  const id = eni.NetworkInterfaceId!;
  const { deviceIndex } = spec;
  const input = { InstanceId: p.instanceId, NetworkInterfaceId: id, DeviceIndex: deviceIndex };
  // NotFound right after our own create is eventual consistency; a reused ENI swept meanwhile is gone.
  const transient =
    source === 'created'
      ? ['IncorrectInstanceState', 'InvalidNetworkInterfaceID.NotFound']
      : ['IncorrectInstanceState'];
  let attachmentId: string | undefined;
  try {
    const send = () => p.ec2.send(new AttachNetworkInterfaceCommand(input));
    const out = await p.run.call('AttachNetworkInterface', send, transient);
    p.pending.delete(id);
    attachmentId = out.AttachmentId;
  } catch (error) {
    if (!isAwsError(error, 'InvalidNetworkInterface.InUse', 'InvalidParameterValue')) throw error;
    return lostRace(p, id, spec, error);
  }
  if (!attachmentId) throw new AbandonError(`AttachNetworkInterface returned no attachment id for ${id}`);
  const attached = { NetworkInterfaceId: id, SubnetId: subnetId, Attachment: { AttachmentId: attachmentId } };
  await keepInterface(p, spec, attached, source);
  p.run.logger.info('Attached network interface', { instanceId: p.instanceId, deviceIndex, id, source });
  return own;
}

/**
 * The attach was refused: a concurrent delivery may have attached the same ENI (one ClientToken)
 * and Describe may lag. Wait for the winner (RaceUnsettledError, transient, when it never shows:
 * a lost race never ABANDONs, ADR 0086); a foreign interface at the index means no race: the refusal stands.
 */
async function lostRace(
  p: LaunchProgress,
  id: string,
  spec: AttachmentSpec,
  refusal: unknown,
): Promise<NetworkInterface[]> {
  const { run, instanceId } = p;
  const { latest, winner } = await settleRace(
    async () => {
      const latest = await describeOwnInterfaces(run, p.ec2, instanceId);
      const winner = attachedAt(latest, instanceId, spec.deviceIndex);
      if (winner !== undefined) return { latest, winner };
      if (foreignAt(p, await describeInstance(p), spec.deviceIndex, latest)) throw refusal;
      return undefined;
    },
    {
      deadline: run.deadlines.work,
      clock: run.clock,
      what: `the attachment at device index ${spec.deviceIndex} of ${instanceId}`,
      random: run.random,
      onWait: () => run.beatIfDue(),
    },
  );
  if (winner.NetworkInterfaceId !== id) await deleteIfUnattached(p, id);
  p.pending.delete(id);
  run.logger.info('A concurrent delivery attached the interface first', {
    instanceId,
    networkInterfaceId: winner.NetworkInterfaceId,
  });
  await keepInterface(p, spec, winner, 'concurrent');
  return latest;
}
