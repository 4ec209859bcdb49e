import {
  CreateNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import { pollUntil } from '@netkit/aws-core/retry';
import { toTagList } from '@netkit/aws-core/tags';
import type { AttachmentSpec } from './config.ts';
import { AbandonError } from './errors.ts';
import type { InterfaceSource, LaunchProgress } from './launch-progress.ts';
import { clientToken, eniDescription, MANAGED_BY, TAG, tagValue } from './naming.ts';

/**
 * The ENI for one attachment, available and with its source/destination check set: an
 * unattached one left by an earlier delivery, or a new one.
 */
export async function obtainInterface(
  p: LaunchProgress,
  spec: AttachmentSpec,
  subnetId: string,
  own: readonly NetworkInterface[],
): Promise<{ eni: NetworkInterface; source: InterfaceSource }> {
  const index = String(spec.deviceIndex);
  const leftover = own
    .filter(
      (e) => e.Status === 'available' && e.SubnetId === subnetId && tagValue(e, TAG.deviceIndex) === index,
    )
    .sort((a, b) => (a.NetworkInterfaceId ?? '').localeCompare(b.NetworkInterfaceId ?? ''))[0];
  const eni = leftover ?? (await create(p, spec, subnetId));
  const id = eni.NetworkInterfaceId!;
  p.pending.add(id);
  if (leftover)
    p.run.logger.info('Reusing an unattached ENI from an earlier delivery', { instanceId: p.instanceId, id });
  const available = eni.Status === 'available' ? eni : await waitAvailable(p, id);
  const Value = spec.sourceDestCheck;
  if (Value !== undefined && available.SourceDestCheck !== Value) {
    const input = { NetworkInterfaceId: id, SourceDestCheck: { Value } };
    const send = () => p.ec2.send(new ModifyNetworkInterfaceAttributeCommand(input));
    await p.run.call('ModifyNetworkInterfaceAttribute', send);
  }
  return { eni, source: leftover ? 'reused' : 'created' };
}

async function create(p: LaunchProgress, spec: AttachmentSpec, subnetId: string): Promise<NetworkInterface> {
  const { action, clock } = p.run;
  const tags = {
    ...p.config.eniTags,
    [TAG.managedBy]: MANAGED_BY,
    [TAG.instanceId]: p.instanceId,
    [TAG.deviceIndex]: String(spec.deviceIndex),
    [TAG.group]: action.groupName,
    [TAG.hook]: action.hookName,
    // The event's time, not the clock: a retried create must send identical parameters.
    [TAG.createdAt]: action.time ?? new Date(clock.now()).toISOString(),
  };
  const input = {
    SubnetId: subnetId,
    Groups: spec.securityGroupIds,
    Description: eniDescription(p.instanceId, spec.deviceIndex, action.groupName),
    ClientToken: clientToken(p.instanceId, action.hookName, spec.deviceIndex),
    TagSpecifications: [{ ResourceType: 'network-interface' as const, Tags: toTagList(tags) }],
  };
  try {
    const out = await p.run.call('CreateNetworkInterface', () =>
      p.ec2.send(new CreateNetworkInterfaceCommand(input)),
    );
    const eni = out.NetworkInterface;
    if (!eni?.NetworkInterfaceId) throw new AbandonError('CreateNetworkInterface returned no interface');
    return eni;
  } catch (error) {
    if (!isAwsError(error, 'IdempotentParameterMismatch')) throw error;
    throw new AbandonError(
      `an ENI was already created for ${p.instanceId} device ${spec.deviceIndex} with different parameters (configuration changed mid-launch?)`,
    );
  }
}

function waitAvailable(p: LaunchProgress, id: string): Promise<NetworkInterface> {
  const { run } = p;
  return pollUntil(
    async () => {
      try {
        const out = await run.call('DescribeNetworkInterfaces', () =>
          p.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] })),
        );
        const eni = out.NetworkInterfaces?.[0];
        return eni?.Status === 'available' ? eni : undefined;
      } catch (error) {
        if (isNotFoundError(error)) return undefined; // eventual consistency right after create
        throw error;
      }
    },
    {
      deadline: run.deadlines.work,
      clock: run.clock,
      what: `network interface ${id} to become available`,
      baseMs: 250,
      maxMs: 4_000,
      random: run.random,
      onWait: () => run.beatIfDue(),
    },
  );
}
