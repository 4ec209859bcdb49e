// A rollback's Update carries the old properties; reaping again could only fail the rollback.
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { newReport, reportData } from './reap-data.ts';

export const ROLLBACK_STATUSES: ReadonlySet<string> = new Set(['UPDATE_ROLLBACK_IN_PROGRESS']);

/** The status of the stack that sent the request (DescribeStacks on its StackId). */
export async function stackStatus(cfn: CloudFormationClient, stackId: string): Promise<string | undefined> {
  const out = await cfn.send(new DescribeStacksCommand({ StackName: stackId }));
  const status = out.Stacks?.[0]?.StackStatus;
  return status === undefined ? undefined : String(status);
}

/** The Data keys of a real run, empty, so `Fn::GetAtt` on the resource keeps resolving. */
export function rollbackData(vpcId: unknown): Record<string, string> {
  return reportData(typeof vpcId === 'string' ? vpcId : '', newReport());
}
