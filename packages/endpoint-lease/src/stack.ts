import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeVpcEndpointsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import { ENDPOINT_OUTPUT_PREFIX } from './template.ts';

export type StackView = NonNullable<Awaited<ReturnType<typeof describeStack>>>;

export async function describeStack(cfn: CloudFormationClient, stackName: string) {
  try {
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    if (stack?.StackStatus === undefined || stack.StackStatus === 'DELETE_COMPLETE') return undefined;
    return {
      stackId: stack.StackId ?? stackName,
      status: stack.StackStatus,
      createdAt: stack.CreationTime?.getTime() ?? 0,
      endpointIds: (stack.Outputs ?? [])
        .filter((o) => o.OutputKey?.startsWith(ENDPOINT_OUTPUT_PREFIX))
        .flatMap((o) => o.OutputValue || []),
    };
  } catch (error) {
    // DescribeStacks on a stack name that does not exist is a ValidationError.
    if (isAwsError(error, 'ValidationError')) return undefined;
    throw error;
  }
}

/** True when every endpoint of the stack is `available` (private DNS can resolve earlier). */
export async function endpointsAvailable(ec2: EC2Client, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const out = await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids }));
  const states = new Map((out.VpcEndpoints ?? []).map((e) => [e.VpcEndpointId, e.State?.toLowerCase()]));
  return ids.every((id) => states.get(id) === 'available');
}

/** Billing starts with the first interface endpoint (the stack and its security group are free). */
export async function billingStart(ec2: EC2Client, stack: StackView): Promise<number> {
  const ids = stack.endpointIds;
  if (ids.length === 0) return stack.createdAt;
  const out = await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ids })).catch((error) => {
    if (isNotFoundError(error)) return undefined;
    throw error;
  });
  const times = (out?.VpcEndpoints ?? [])
    .map((e) => e.CreationTimestamp?.getTime())
    .filter((t): t is number => t !== undefined && Number.isFinite(t));
  return times.length === 0 ? stack.createdAt : Math.min(...times);
}
