/** Acquire's part of the stack alone (ADR 0082): the read-only pre-checks, then CreateStack. */
import { type CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { DescribeSubnetsCommand, DescribeVpcAttributeCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError } from '@netkit/aws-core/errors';
import type { Config } from './config.ts';
import { EndpointPreconditionError } from './errors.ts';
import { endpointStackTemplate } from './template.ts';

const DNS_ATTRIBUTES = [
  ['enableDnsSupport', 'EnableDnsSupport', 'enable-dns-support'],
  ['enableDnsHostnames', 'EnableDnsHostnames', 'enable-dns-hostnames'],
] as const;

/** What private-DNS interface endpoints need: both VPC DNS attributes, endpoint subnets one per AZ. */
export async function checkEndpointPreconditions(ec2: EC2Client, config: Config) {
  const { vpcId } = config;
  const problems: string[] = [];
  for (const [attribute, key, flag] of DNS_ATTRIBUTES) {
    const out = await ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: attribute }));
    if (out[key]?.Value !== true) {
      problems.push(
        `VPC ${vpcId} has ${attribute}=false; private DNS needs it true (aws ec2 modify-vpc-attribute --vpc-id ${vpcId} --${flag})`,
      );
    }
  }
  const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: config.endpointSubnetIds }));
  const byAz = new Map<string, string[]>();
  for (const subnet of out.Subnets ?? []) {
    if (subnet.VpcId !== vpcId)
      problems.push(`ENDPOINT_SUBNET_IDS: subnet ${subnet.SubnetId} is in ${subnet.VpcId}, not ${vpcId}`);
    const az = subnet.AvailabilityZone ?? '?';
    byAz.set(az, [...(byAz.get(az) ?? []), subnet.SubnetId ?? '?']);
  }
  for (const [az, ids] of byAz) {
    if (ids.length > 1)
      problems.push(
        `ENDPOINT_SUBNET_IDS: ${ids.join(' and ')} are both in ${az}; endpoints take one subnet per Availability Zone`,
      );
  }
  if (problems.length > 0) throw new EndpointPreconditionError(problems.join('; '));
}

/** False when another invocation created the stack first (normal for concurrent acquires). */
export async function createStack(cfn: CloudFormationClient, config: Config, clientRequestToken: string) {
  try {
    await cfn.send(
      new CreateStackCommand({
        StackName: config.stackName,
        TemplateBody: endpointStackTemplate(config),
        RoleARN: config.cfnRoleArn,
        // A failed creation deletes itself, so the next acquire starts clean.
        OnFailure: 'DELETE',
        Tags: [{ Key: 'netkit:package', Value: 'endpoint-lease' }],
        ClientRequestToken: clientRequestToken,
      }),
    );
    return true;
  } catch (error) {
    if (isAwsError(error, 'AlreadyExistsException')) return false;
    throw error;
  }
}
