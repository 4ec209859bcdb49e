import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';

/**
 * The instance's primary network interface (device index 0), or undefined while EC2 does not
 * list it yet (Describe calls are eventually consistent right after launch).
 *
 * eip-associator associates by InstanceId first (no lookup: EC2 picks the only interface) and
 * calls this only when EC2 refuses because another hook on the same group (eni-attach,
 * eni-pool-agent) attached a second interface: then the EIP goes on this interface, never on the
 * other hook's (ADR 0085). One filtered DescribeNetworkInterfaces call (not paginated: an instance
 * has a few interfaces).
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
