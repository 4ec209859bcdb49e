// The AWS contracts the grant check (grants.ts) relies on beyond the Service Authorization
// Reference's tables: what a package's requests touch where that is less than every resource type
// the reference lists for the action, and the actions AWS authorizes without an SDK command of
// their own. Each entry names the documentation it rests on. See ADR 0082.
import type { RequestScope } from './grants.ts';

/**
 * Requests that touch fewer resource types than the reference lists (a type the reference marks
 * required can never be left out; the check fails if one is). Every other action must be granted on
 * every resource type the reference lists for it.
 */
export const REQUEST_SCOPES: readonly RequestScope[] = [
  // Service Authorization Reference, Amazon EC2, ModifyNetworkInterfaceAttribute: network-interface
  // (required), instance, security-group, subnet. EC2 API Reference, ModifyNetworkInterfaceAttribute:
  // `Attachment` changes DeleteOnTermination of the attachment to an instance; `SecurityGroupIds`
  // (groups) and the subnet-level parameters are the other attributes, which no package sets.
  ...['eni-attach/LaunchFunction', 'eni-pool-agent/Function'].map((fn) => ({
    function: fn,
    action: 'ec2:ModifyNetworkInterfaceAttribute',
    touches: ['network-interface', 'instance'],
    reason:
      'sets Attachment.DeleteOnTermination of an attached interface only (never Groups or subnet attributes)',
  })),
  // Service Authorization Reference, Amazon EC2, CreateTags / DeleteTags: every taggable EC2 resource
  // type, none required; a request is authorized on the resources in its `Resources` list.
  {
    function: 'eni-attach/LaunchFunction',
    action: 'ec2:CreateTags',
    touches: ['network-interface'],
    reason: 'tags on create only: CreateNetworkInterface TagSpecifications of the new interface',
  },
  {
    function: 'eni-pool-agent/Function',
    action: 'ec2:CreateTags',
    touches: ['instance'],
    reason: 'the hostname tag on the launching instance (create-handler.ts)',
  },
  ...['endpoint-lease/AcquireFunction', 'endpoint-lease/ReaperFunction'].flatMap((fn) =>
    ['ec2:CreateTags', 'ec2:DeleteTags'].map((action) => ({
      function: fn,
      action,
      touches: ['vpc'],
      reason: 'lease and reap-intent tags live on the configured VPC only (lease.ts)',
    })),
  ),
];

/**
 * Actions a function needs that no SDK command of its own names: AWS authorizes them as part of
 * another call. The check treats them like the bundle's calls (granted on what they touch).
 */
export const IMPLIED_ACTIONS: ReadonlyArray<{ function: string; action: string; reason: string }> = [
  {
    // Amazon EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation": a create
    // call with TagSpecifications also needs ec2:CreateTags (scope it with ec2:CreateAction).
    function: 'eni-attach/LaunchFunction',
    action: 'ec2:CreateTags',
    reason: 'CreateNetworkInterface with TagSpecifications (tag on create)',
  },
  {
    // AWS CloudFormation User Guide, "AWS CloudFormation service role": the caller of CreateStack with
    // RoleARN needs iam:PassRole on that role.
    function: 'endpoint-lease/AcquireFunction',
    action: 'iam:PassRole',
    reason: 'CreateStack passes the endpoint stack service role (RoleARN); RunTask passes the task roles',
  },
];
