import { resolve } from 'node:path';
import {
  AllocateAddressCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  type EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Emulator } from '@netkit/local-aws';
import type { HandlerDeps } from '../../src/create-handler.ts';

export const GROUP = 'fwproxy-asg';
export const HOOK = 'fwproxy-associate-eip';
export const TERMINATE_HOOK = 'fwproxy-release-eip';
/** The template's pool (EipPoolName): its EIPs carry netkit:eip-pool=<name>, the tag its IAM policy scopes. */
export const POOL_NAME = 'prod ForwardProxy';
export const POOL_TAGS = { 'netkit:eip-pool': POOL_NAME };

export const TEMPLATE = resolve(import.meta.dirname, '../../../../infra/eip-associator/template.yaml');

/** The template's parameters for the fleet the tests and the demo build. */
export const TEMPLATE_PARAMETERS = {
  AutoScalingGroupName: GROUP,
  LaunchHookName: HOOK,
  TerminateHookName: TERMINATE_HOOK,
  EipPoolName: POOL_NAME,
};

/**
 * A VPC with one subnet; `count` moto instances in it (the group's launches), tagged
 * `aws:autoscaling:groupName` as Auto Scaling tags its instances (the template's condition on
 * `instance/*` reads it).
 */
export async function launchInstances(ec2: EC2Client, count: number): Promise<string[]> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const subnet = await ec2.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc!.VpcId!,
      CidrBlock: '10.0.0.0/20',
      AvailabilityZone: 'us-east-1a',
    }),
  );
  const ids: string[] = [];
  for (let left = count; left > 0; left -= Math.min(left, 50)) {
    const n = Math.min(left, 50);
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: n,
        MaxCount: n,
        SubnetId: subnet.Subnet!.SubnetId!,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'aws:autoscaling:groupName', Value: GROUP }] },
        ],
      }),
    );
    ids.push(...(out.Instances ?? []).map((i) => i.InstanceId!));
  }
  return ids;
}

/** `count` VPC EIPs tagged with `tags`; returns their allocation ids. */
export async function allocatePool(
  ec2: EC2Client,
  count: number,
  tags: Record<string, string>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const out = await ec2.send(
      new AllocateAddressCommand({
        Domain: 'vpc',
        TagSpecifications: [
          {
            ResourceType: 'elastic-ip',
            Tags: [
              ...Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              { Key: 'Name', Value: `eip-${i}` },
            ],
          },
        ],
      }),
    );
    ids.push(out.AllocationId!);
  }
  return ids;
}

/** allocationId -> instanceId (or undefined) for the given allocation ids. */
export async function associations(
  ec2: EC2Client,
  allocationIds: string[],
): Promise<Map<string, string | undefined>> {
  const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: allocationIds }));
  // moto sends an empty InstanceId for a free address; AWS omits it.
  return new Map((out.Addresses ?? []).map((a) => [a.AllocationId!, a.InstanceId || undefined]));
}

/** The EventBridge event Auto Scaling sends for a registered lifecycle action. */
export function lifecycleEventFor(
  kind: 'launch' | 'terminate',
  instanceId: string,
  token: string,
  options: { region?: string; hook?: string; group?: string } = {},
) {
  const group = options.group ?? GROUP;
  const region = options.region ?? 'us-east-1';
  return {
    version: '0',
    id: `${token.slice(0, 8)}-0000-4000-8000-${instanceId.slice(-12).padStart(12, '0')}`,
    'detail-type':
      kind === 'launch' ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region,
    resources: [
      `arn:aws:autoscaling:${region}:123456789012:autoScalingGroup:d4738357-2d40-4038-ae7e-b00ae0227003:autoScalingGroupName/${group}`,
    ],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: group,
      LifecycleHookName: options.hook ?? (kind === 'launch' ? HOOK : TERMINATE_HOOK),
      EC2InstanceId: instanceId,
      LifecycleTransition:
        kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: kind === 'launch' ? 'EC2' : 'AutoScalingGroup',
      Destination: kind === 'launch' ? 'AutoScalingGroup' : 'EC2',
    },
  };
}

/** Register launch lifecycle actions for `instanceIds` and return their events. */
export async function beginLaunches(emulator: Emulator, instanceIds: string[]) {
  return Promise.all(
    instanceIds.map(async (instanceId) => {
      const token = await emulator.lifecycle.begin({
        groupName: GROUP,
        hookName: HOOK,
        instanceId,
        transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      });
      return lifecycleEventFor('launch', instanceId, token, { region: emulator.region });
    }),
  );
}

/** EC2 calls (all actions, throttled included) since the last resetCalls. */
export function ec2CallCount(calls: Record<string, number>): number {
  return Object.entries(calls)
    .filter(([k]) => k.startsWith('ec2:'))
    .reduce((n, [, v]) => n + v, 0);
}

/** Metrics for tests and benchmarks that do not read them: the handler's calls go nowhere. */
export const unreadMetrics = {
  addMetric() {},
  addDimension() {},
  publishStoredMetrics() {},
} as unknown as HandlerDeps['metrics'];
