import {
  type CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeVpcEndpointsCommand, DescribeVpcsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError, isNotFoundError, ValidationError } from '@netkit/aws-core/errors';
import type { Config } from './config.ts';
import { ENDPOINT_OUTPUT_PREFIX, endpointStackTemplate } from './template.ts';

export const PACKAGE_TAG = { Key: 'netkit:package', Value: 'endpoint-lease' } as const;

export interface StackView {
  stackId: string;
  status: string;
  createdAt: number;
  outputs: Record<string, string>;
}

/** The stack by name, or undefined when it does not exist (or is DELETE_COMPLETE). */
export async function describeStack(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<StackView | undefined> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (stack === undefined || stack.StackStatus === undefined) return undefined;
    if (stack.StackStatus === 'DELETE_COMPLETE') return undefined;
    const outputs: Record<string, string> = {};
    for (const o of stack.Outputs ?? [])
      if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
    return {
      stackId: stack.StackId ?? stackName,
      status: String(stack.StackStatus),
      createdAt: stack.CreationTime ? stack.CreationTime.getTime() : 0,
      outputs,
    };
  } catch (error) {
    // DescribeStacks on a stack name that does not exist is a ValidationError.
    if (isAwsError(error, 'ValidationError')) return undefined;
    throw error;
  }
}

/** IPv4 CIDR blocks associated with the VPC (primary and secondary). */
export async function vpcCidrs(ec2: EC2Client, vpcId: string): Promise<string[]> {
  const out = await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
  const vpc = out.Vpcs?.[0];
  if (vpc === undefined) throw new ValidationError(`VPC ${vpcId} was not found`);
  const cidrs = (vpc.CidrBlockAssociationSet ?? [])
    .filter(
      (a) =>
        a.CidrBlock && (a.CidrBlockState?.State === undefined || a.CidrBlockState.State === 'associated'),
    )
    .map((a) => a.CidrBlock as string);
  if (cidrs.length === 0 && vpc.CidrBlock) cidrs.push(vpc.CidrBlock);
  return [...new Set(cidrs)];
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
  const cidrs = await vpcCidrs(deps.ec2, config.vpcId);
  const body = endpointStackTemplate({
    vpcId: config.vpcId,
    vpcCidrs: cidrs,
    subnetIds: config.subnetIds,
    routeTableIds: config.routeTableIds,
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

export async function deleteStack(cfn: CloudFormationClient, stackName: string) {
  await cfn.send(new DeleteStackCommand({ StackName: stackName }));
}

/** Endpoint ids from the stack outputs (interface and gateway). */
export function endpointIds(stack: StackView): string[] {
  return Object.entries(stack.outputs)
    .filter(([key]) => key.startsWith(ENDPOINT_OUTPUT_PREFIX) || key === 'S3GatewayEndpoint')
    .map(([, value]) => value);
}

/** True when every endpoint of the stack is `available` (private DNS can resolve earlier). */
export async function endpointsAvailable(ec2: EC2Client, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const out = await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids }));
  const states = new Map((out.VpcEndpoints ?? []).map((e) => [e.VpcEndpointId, String(e.State ?? '')]));
  return ids.every((id) => states.get(id)?.toLowerCase() === 'available');
}

/**
 * When billing of the stack started: the earliest `CreationTimestamp` of its interface endpoints
 * (they bill per endpoint-hour; the stack and its security group are created earlier and are free).
 * Falls back to the stack's CreationTime when no interface endpoint can be read.
 */
export async function billingStart(ec2: EC2Client, stack: StackView): Promise<number> {
  const ids = endpointIds(stack);
  if (ids.length === 0) return stack.createdAt;
  let endpoints: { VpcEndpointType?: string; CreationTimestamp?: Date }[];
  try {
    endpoints = (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids }))).VpcEndpoints ?? [];
  } catch (error) {
    if (isNotFoundError(error) || isAwsError(error, 'InvalidVpcEndpointId.NotFound')) return stack.createdAt;
    throw error;
  }
  const times = endpoints
    .filter((e) => String(e.VpcEndpointType ?? 'Interface').toLowerCase() === 'interface')
    .map((e) => e.CreationTimestamp?.getTime())
    .filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
  return times.length === 0 ? stack.createdAt : Math.min(...times);
}
