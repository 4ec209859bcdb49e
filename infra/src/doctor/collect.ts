// Reads what the doctor checks. Read-only by construction: every call below is a Describe, List or
// Get (test/doctor.test.ts records every call the emulator receives and fails on any other).
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  type CloudFormationClient,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeAddressesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type Filter,
} from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GROUP_PACKAGES, type Snapshot } from './checks.ts';
import { templateFunction } from './template-defaults.ts';

export interface DoctorClients {
  autoscaling: AutoScalingClient;
  ec2: EC2Client;
  cloudformation: CloudFormationClient;
  lambda: LambdaClient;
}

/** A problem with what the user asked for (no such group): exit 2, not a finding. */
export class DoctorUsageError extends Error {
  override readonly name = 'DoctorUsageError';
}

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
}

function tagFilters(tagsJson: string | undefined): Filter[] | undefined {
  if (tagsJson === undefined) return undefined;
  try {
    const tags: unknown = JSON.parse(tagsJson);
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return undefined;
    const filters = Object.entries(tags as Record<string, unknown>).map(([k, v]) => ({
      Name: `tag:${k}`,
      Values: [String(v)],
    }));
    return filters.length > 0 ? filters : undefined;
  } catch {
    return undefined;
  }
}

export async function collect(
  clients: DoctorClients,
  packageName: string,
  groupName: string,
  stackName: string,
): Promise<Snapshot> {
  const spec = GROUP_PACKAGES[packageName];
  if (spec === undefined)
    throw new DoctorUsageError(`doctor cannot check package '${packageName}' against a group`);
  const { snapshot, lt } = await collectGroup(clients, packageName, groupName, stackName);
  await collectStack(clients, stackName, snapshot);
  await collectFunction(clients, stackName, spec.functionId, snapshot);
  if (!snapshot.stack.found) {
    // A preflight: check the hooks against what the template deploys with its defaults. The hook
    // names stay unknown (they are deploy-time parameters), so any launch hook of the group is checked.
    const fromTemplate = templateFunction(packageName, spec.functionId);
    if (fromTemplate !== undefined) {
      const { LIFECYCLE_HOOK_NAMES: _names, ...env } = fromTemplate.env;
      snapshot.fn = { ...fromTemplate, env, fromTemplate: true };
    }
  }
  const env = snapshot.fn?.env;
  if (packageName === 'eip-associator') await collectEipPool(clients, env, snapshot);
  if (packageName === 'eni-pool-agent') await collectEniPool(clients, env, lt, snapshot);
  return snapshot;
}

type LaunchTemplateSpec = NonNullable<AutoScalingGroup['LaunchTemplate']>;

/** The group (size, AZs, launch template or configuration) and its lifecycle hooks. */
async function collectGroup(
  clients: DoctorClients,
  packageName: string,
  groupName: string,
  stackName: string,
): Promise<{ snapshot: Snapshot; lt: LaunchTemplateSpec | undefined }> {
  const groups = await clients.autoscaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  const group = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
  if (group === undefined) {
    throw new DoctorUsageError(`no Auto Scaling group named '${groupName}' in this account and region`);
  }
  const hooks = await clients.autoscaling.send(
    new DescribeLifecycleHooksCommand({ AutoScalingGroupName: groupName }),
  );

  const lt = group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  const snapshot: Snapshot = {
    packageName,
    groupName,
    group: {
      maxSize: group.MaxSize ?? 0,
      availabilityZones: [...(group.AvailabilityZones ?? [])].sort(),
      launch: lt
        ? {
            kind: 'launch-template',
            label: `launch template ${lt.LaunchTemplateId ?? lt.LaunchTemplateName} version ${lt.Version ?? '$Default'}`,
          }
        : group.LaunchConfigurationName
          ? { kind: 'launch-configuration', label: `launch configuration ${group.LaunchConfigurationName}` }
          : { kind: 'unknown', label: `group ${groupName}` },
    },
    hooks: (hooks.LifecycleHooks ?? []).map((h) => ({
      name: h.LifecycleHookName ?? '',
      transition: h.LifecycleTransition ?? '',
      defaultResult: h.DefaultResult ?? '',
      heartbeatTimeout: h.HeartbeatTimeout ?? 0,
    })),
    stack: { found: false, name: stackName },
  };
  return { snapshot, lt };
}

/** The package's stack: status and parameters (not found: an unknown or deleted stack). */
async function collectStack(clients: DoctorClients, stackName: string, snapshot: Snapshot): Promise<void> {
  try {
    const stacks = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = stacks.Stacks?.[0];
    if (stack !== undefined && stack.StackStatus !== 'DELETE_COMPLETE') {
      snapshot.stack = {
        found: true,
        name: stackName,
        status: stack.StackStatus ?? 'UNKNOWN',
        parameters: Object.fromEntries(
          (stack.Parameters ?? []).map((p) => [p.ParameterKey ?? '', p.ParameterValue ?? '']),
        ),
      };
    }
  } catch (error) {
    // DescribeStacks answers ValidationError "Stack with id X does not exist" for an unknown stack.
    if (errorName(error) !== 'ValidationError') throw error;
  }
}

/** The stack's function: name, timeout and environment. */
async function collectFunction(
  clients: DoctorClients,
  stackName: string,
  functionId: string,
  snapshot: Snapshot,
): Promise<void> {
  if (snapshot.stack.found) {
    const resource = await clients.cloudformation.send(
      new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: functionId }),
    );
    const functionName = resource.StackResourceDetail?.PhysicalResourceId;
    if (functionName) {
      const config = await clients.lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: functionName }),
      );
      snapshot.fn = {
        name: config.FunctionName ?? functionName,
        timeout: config.Timeout ?? 3,
        env: { ...(config.Environment?.Variables ?? {}) },
      };
    }
  }
}

/** eip-associator: the number of Elastic IPs carrying the pool tags. */
async function collectEipPool(
  clients: DoctorClients,
  env: Record<string, string> | undefined,
  snapshot: Snapshot,
): Promise<void> {
  const filters = tagFilters(env?.['EIP_POOL_TAGS']);
  if (filters) {
    const out = await clients.ec2.send(
      new DescribeAddressesCommand({ Filters: [...filters, { Name: 'domain', Values: ['vpc'] }] }),
    );
    snapshot.pool = { byAz: { '*': out.Addresses?.length ?? 0 }, withHostnameTag: 0 };
  }
}

/** eni-pool-agent: pool ENIs per AZ (and with a hostname tag), and the launch template's metadata tags. */
async function collectEniPool(
  clients: DoctorClients,
  env: Record<string, string> | undefined,
  lt: LaunchTemplateSpec | undefined,
  snapshot: Snapshot,
): Promise<void> {
  const filters = tagFilters(env?.['ENI_POOL_TAGS']);
  if (filters && snapshot.group.availabilityZones.length > 0) {
    const byAz: Record<string, number> = {};
    let withHostnameTag = 0;
    const hostnameTag = env?.['HOSTNAME_TAG'];
    let token: string | undefined;
    do {
      const out = await clients.ec2.send(
        new DescribeNetworkInterfacesCommand({
          Filters: [...filters, { Name: 'availability-zone', Values: snapshot.group.availabilityZones }],
          MaxResults: 1000,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const eni of out.NetworkInterfaces ?? []) {
        const az = eni.AvailabilityZone ?? '';
        byAz[az] = (byAz[az] ?? 0) + 1;
        if (hostnameTag && (eni.TagSet ?? []).some((t) => t.Key === hostnameTag)) withHostnameTag++;
      }
      token = out.NextToken;
    } while (token);
    snapshot.pool = { byAz, withHostnameTag };
  }
  if (lt && snapshot.group.launch.kind === 'launch-template') {
    const out = await clients.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(lt.LaunchTemplateId
          ? { LaunchTemplateId: lt.LaunchTemplateId }
          : { LaunchTemplateName: lt.LaunchTemplateName }),
        Versions: [lt.Version ?? '$Default'],
      }),
    );
    const tags = out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.MetadataOptions?.InstanceMetadataTags;
    if (tags !== undefined) snapshot.group.launch.instanceMetadataTags = tags;
  }
}
