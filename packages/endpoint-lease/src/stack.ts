import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeVpcEndpointsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import { ENDPOINT_OUTPUT_PREFIX } from './template.ts';

export interface StackView {
  stackId: string;
  status: string;
  createdAt: number;
  outputs: Record<string, string>;
}

export async function describeStack(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<StackView | undefined> {
  try {
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    if (stack?.StackStatus === undefined || stack.StackStatus === 'DELETE_COMPLETE') return undefined;
    const outputs: Record<string, string> = {};
    for (const o of stack.Outputs ?? [])
      if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
    return {
      stackId: stack.StackId ?? stackName,
      status: stack.StackStatus,
      createdAt: stack.CreationTime ? stack.CreationTime.getTime() : 0,
      outputs,
    };
  } catch (error) {
    // DescribeStacks on a stack name that does not exist is a ValidationError.
    if (isAwsError(error, 'ValidationError')) return undefined;
    throw error;
  }
}

export function endpointIds(stack: StackView): string[] {
  return Object.entries(stack.outputs)
    .filter(([key]) => key.startsWith(ENDPOINT_OUTPUT_PREFIX))
    .map(([, value]) => value);
}

/** True when every endpoint of the stack is `available` (private DNS can resolve earlier). */
export async function endpointsAvailable(ec2: EC2Client, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const out = await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids }));
  const states = new Map((out.VpcEndpoints ?? []).map((e) => [e.VpcEndpointId, String(e.State ?? '')]));
  return ids.every((id) => states.get(id)?.toLowerCase() === 'available');
}

/** Billing starts with the first interface endpoint (the stack and its security group are free). */
export async function billingStart(ec2: EC2Client, stack: StackView): Promise<number> {
  const ids = endpointIds(stack);
  if (ids.length === 0) return stack.createdAt;
  const out = await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids })).catch((error) => {
    if (isNotFoundError(error) || isAwsError(error, 'InvalidVpcEndpointId.NotFound')) return undefined;
    throw error;
  });
  const times = (out?.VpcEndpoints ?? [])
    .map((e) => e.CreationTimestamp?.getTime())
    .filter((t): t is number => t !== undefined && Number.isFinite(t));
  return times.length === 0 ? stack.createdAt : Math.min(...times);
}
