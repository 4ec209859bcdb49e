import {
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import { tagFilters } from '@netkit/aws-core/tags';
import { MANAGED_BY, TAG, tagValue } from './naming.ts';

/** Every ENI this package created for `instanceId` (attached or not): one filtered Describe call. */
export async function describeOwnInterfaces(
  run: HookRun,
  ec2: EC2Client,
  instanceId: string,
): Promise<NetworkInterface[]> {
  const Filters = tagFilters({ [TAG.managedBy]: MANAGED_BY, [TAG.instanceId]: instanceId });
  const out = await run.call('DescribeNetworkInterfaces', () =>
    ec2.send(new DescribeNetworkInterfacesCommand({ Filters })),
  );
  return out.NetworkInterfaces ?? [];
}

/** The ENI of ours attached to `instanceId` at `deviceIndex`, if any. */
export function attachedAt(
  enis: readonly NetworkInterface[],
  instanceId: string,
  deviceIndex: number,
): NetworkInterface | undefined {
  return enis.find(
    (eni) =>
      tagValue(eni, TAG.deviceIndex) === String(deviceIndex) &&
      eni.Attachment?.InstanceId === instanceId &&
      eni.Attachment.DeviceIndex === deviceIndex &&
      (eni.Attachment.Status === 'attached' || eni.Attachment.Status === 'attaching'),
  );
}

/** EC2 deletes the attached interface with the instance; false when it already would. */
export async function ensureDeleteOnTermination(run: HookRun, ec2: EC2Client, eni: NetworkInterface) {
  const { AttachmentId, DeleteOnTermination } = eni.Attachment ?? {};
  if (!AttachmentId || DeleteOnTermination) return false;
  const input = {
    NetworkInterfaceId: eni.NetworkInterfaceId,
    Attachment: { AttachmentId, DeleteOnTermination: true },
  };
  const send = () => ec2.send(new ModifyNetworkInterfaceAttributeCommand(input));
  await run.call('ModifyNetworkInterfaceAttribute', send, ['InvalidAttachmentID.NotFound']);
  return true;
}
