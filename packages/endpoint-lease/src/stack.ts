import {
  type CloudFormationClient,
  DeleteStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  paginateDescribeStackEvents,
} from '@aws-sdk/client-cloudformation';
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

/** RetainResources is valid only for a DELETE_FAILED stack, so it is sent only when given. */
export async function deleteStack(cfn: CloudFormationClient, stackName: string, retain: string[] = []) {
  const RetainResources = retain.length > 0 ? retain : undefined;
  await cfn.send(new DeleteStackCommand({ StackName: stackName, RetainResources }));
}

/** How many times the stack's deletion has failed: its own DELETE_FAILED events (in a bounded read). */
export async function failedDeletes(cfn: CloudFormationClient, stackId: string): Promise<number> {
  let count = 0;
  let pages = 0;
  for await (const page of paginateDescribeStackEvents({ client: cfn }, { StackName: stackId })) {
    for (const e of page.StackEvents ?? [])
      if (e.ResourceType === 'AWS::CloudFormation::Stack' && e.ResourceStatus === 'DELETE_FAILED') count++;
    if (++pages >= 10) break;
  }
  return count;
}

/** Resources a DELETE_FAILED stack still holds (everything not deleted or skipped). */
export async function stuckResources(cfn: CloudFormationClient, stackId: string) {
  const out = await cfn.send(new DescribeStackResourcesCommand({ StackName: stackId }));
  return (out.StackResources ?? [])
    .filter((r) => r.ResourceStatus !== 'DELETE_COMPLETE' && r.ResourceStatus !== 'DELETE_SKIPPED')
    .filter((r) => typeof r.LogicalResourceId === 'string')
    .map((r) => ({
      logicalId: r.LogicalResourceId as string,
      physicalId: r.PhysicalResourceId,
      type: r.ResourceType,
      reason: r.ResourceStatusReason,
    }));
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
