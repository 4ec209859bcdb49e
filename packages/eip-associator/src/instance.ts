import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';

/**
 * The instance's primary interface (device index 0), asked only after EC2 refused an association
 * by InstanceId (ADR 0085); undefined while EC2 does not list it yet (eventual consistency).
 */
export async function primaryInterfaceId(ec2: EC2Client, instanceId: string): Promise<string | undefined> {
  const out = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
    }),
  );
  const primary = (out.NetworkInterfaces ?? []).find(
    (eni) => eni.Attachment?.InstanceId === instanceId && eni.Attachment?.DeviceIndex === 0,
  );
  return primary?.NetworkInterfaceId || undefined;
}
