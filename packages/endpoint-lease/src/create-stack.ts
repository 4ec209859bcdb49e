/**
 * Creating the endpoint stack, acquire's part alone (the reaper only reads and deletes it, stack.ts):
 * the read-only precondition checks, then CreateStack with the stack service role.
 */
import { type CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { DescribeSubnetsCommand, DescribeVpcAttributeCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError } from '@netkit/aws-core/errors';
import type { Config } from './config.ts';
import { EndpointPreconditionError } from './errors.ts';
import { endpointStackTemplate } from './template.ts';

export const PACKAGE_TAG = { Key: 'netkit:package', Value: 'endpoint-lease' } as const;

/**
 * Checks, with read-only calls, what CreateVpcEndpoint with PrivateDnsEnabled requires: the VPC's
 * `enableDnsSupport` and `enableDnsHostnames` attributes are true, and the endpoint subnets are in
 * the VPC with at most one per Availability Zone (an interface endpoint takes one subnet per AZ).
 */
export async function checkEndpointPreconditions(
  ec2: EC2Client,
  config: Pick<Config, 'vpcId' | 'endpointSubnetIds'>,
): Promise<void> {
  const problems: string[] = [];
  for (const [attribute, key] of [
    ['enableDnsSupport', 'EnableDnsSupport'],
    ['enableDnsHostnames', 'EnableDnsHostnames'],
  ] as const) {
    const out = await ec2.send(
      new DescribeVpcAttributeCommand({ VpcId: config.vpcId, Attribute: attribute }),
    );
    if (out[key]?.Value !== true) {
      problems.push(
        `VPC ${config.vpcId} has ${attribute}=false; interface endpoints with private DNS need it true (aws ec2 modify-vpc-attribute --vpc-id ${config.vpcId} --${attribute === 'enableDnsSupport' ? 'enable-dns-support' : 'enable-dns-hostnames'})`,
      );
    }
  }
  const out = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: config.endpointSubnetIds }));
  const byAz = new Map<string, string[]>();
  for (const subnet of out.Subnets ?? []) {
    if (subnet.VpcId !== config.vpcId) {
      problems.push(
        `ENDPOINT_SUBNET_IDS: subnet ${subnet.SubnetId} is in ${subnet.VpcId}, not ${config.vpcId}`,
      );
    }
    const az = subnet.AvailabilityZone ?? '?';
    byAz.set(az, [...(byAz.get(az) ?? []), subnet.SubnetId ?? '?']);
  }
  for (const [az, ids] of byAz) {
    if (ids.length > 1) {
      problems.push(
        `ENDPOINT_SUBNET_IDS: ${ids.join(' and ')} are both in ${az}; interface endpoints take one subnet per Availability Zone`,
      );
    }
  }
  if (problems.length > 0) throw new EndpointPreconditionError(problems.join('; '));
}

/**
 * CreateStack; returns false when another invocation created it first (AlreadyExistsException),
 * which is the normal outcome of concurrent acquires.
 */
export async function createStack(
  deps: { cfn: CloudFormationClient; ec2: EC2Client },
  config: Config,
  clientRequestToken: string,
): Promise<boolean> {
  const body = endpointStackTemplate({
    vpcId: config.vpcId,
    subnetIds: config.endpointSubnetIds,
    taskSecurityGroupIds: config.taskSecurityGroupIds,
    services: config.endpointServices,
    stackName: config.stackName,
  });
  try {
    await deps.cfn.send(
      new CreateStackCommand({
        StackName: config.stackName,
        TemplateBody: body,
        RoleARN: config.cfnRoleArn,
        // A failed creation deletes itself, so the next acquire starts clean.
        OnFailure: 'DELETE',
        Tags: [PACKAGE_TAG],
        ClientRequestToken: clientRequestToken,
      }),
    );
    return true;
  } catch (error) {
    if (isAwsError(error, 'AlreadyExistsException')) return false;
    throw error;
  }
}
