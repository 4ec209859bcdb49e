// Composed group: one Auto Scaling group with two launch hooks, eni-attach (an ENI in another
// VPC at device index 1) and eip-associator (a pool EIP). Auto Scaling runs a group's hooks in
// parallel, so both bundles get their launch events at the same time: eni-attach may attach the
// second interface before eip-associator associates. Both built bundles, the real SDK, the
// emulator with its EC2 contracts (AssociateAddress by InstanceId fails on a multi-interface
// instance) and, when asked, Describe lag for new instances.
import { resolve } from 'node:path';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { isolatedBundle } from '@netkit/demo';
import type { Emulator } from '@netkit/local-aws';
import { allocatePool, lifecycleEventFor } from '../test/support/fleet.ts';

export const COMPOSED_GROUP = 'proxy-asg';
export const ENI_HOOK = 'proxy-attach-eni';
export const EIP_HOOK = 'proxy-associate-eip';
/** Its own pool, so that EIPs left from an earlier scenario step are not in play. */
export const COMPOSED_POOL_TAGS = { 'netkit:eip-pool': 'composed Proxy' };

/** eni-attach's built bundles, next to this package. */
export const ENI_ATTACH_DIR = resolve(import.meta.dirname, '..', '..', 'eni-attach');

interface Outcome {
  status?: string;
  result?: string;
  reason?: string;
}

export interface ComposedOptions {
  emulator: Emulator;
  /** eip-associator's dist folder. */
  distDir: string;
  launches: number;
  /** EC2 Describe lag for the new instances (emulator `describeLagMs`) while the hooks run. */
  describeLagMs?: number;
  /** EC2 Describe lag after each AttachNetworkInterface (emulator `attachLagMs`) while the hooks run. */
  attachLagMs?: number;
  /** EC2 Describe lag after each AssociateAddress (emulator `associateLagMs`) while the hooks run. */
  associateLagMs?: number;
  step?: (message: string) => void;
}

export interface ComposedResult {
  checks: Record<string, boolean>;
  instances: string[];
  eipResults: Outcome[];
  eniResults: Outcome[];
}

function lambdaContext(timeoutMs = 60_000) {
  const start = Date.now();
  return {
    awsRequestId: `composed-${start}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - start)),
  };
}

const QUIET = {
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_TRACE_ENABLED: 'false',
};

export async function runComposedGroup(options: ComposedOptions): Promise<ComposedResult> {
  const { emulator, launches } = options;
  const step = options.step ?? (() => {});
  const ec2 = new EC2Client(emulator.clientConfig);
  const az = `${emulator.region}a`;

  const vpc = async (cidr: string) => (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
  const subnet = async (vpcId: string, cidr: string) =>
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }))).Subnet!
      .SubnetId!;
  const sourceVpc = await vpc('10.90.0.0/16');
  const targetVpc = await vpc('10.91.0.0/16');
  const sourceSubnet = await subnet(sourceVpc, '10.90.0.0/24');
  const targetSubnet = await subnet(targetVpc, '10.91.0.0/24');
  const targetSg = (
    await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: targetVpc, GroupName: 'proxy-target', Description: 'target' }),
    )
  ).GroupId!;
  const pool = await allocatePool(ec2, launches, COMPOSED_POOL_TAGS);
  step(
    `Group ${COMPOSED_GROUP}: hooks ${ENI_HOOK} (eni-attach, target VPC ${targetVpc}) and ${EIP_HOOK} (eip-associator, ${launches} pool EIPs)`,
  );

  // Each bundle runs as its template's function (its credentials map to that function's policy),
  // each in its own worker thread so each keeps its own credentials.
  const eniAttachFn = await emulator.iam.registerFromTemplate({
    template: resolve(ENI_ATTACH_DIR, '..', '..', 'infra', 'eni-attach', 'template.yaml'),
    logicalId: 'LaunchFunction',
    parameters: {
      AutoScalingGroupName: COMPOSED_GROUP,
      LaunchHookName: ENI_HOOK,
      SubnetIds: [targetSubnet],
      SecurityGroupIds: [targetSg],
    },
  });
  const eipAssociatorFn = await emulator.iam.registerFromTemplate({
    template: resolve(import.meta.dirname, '..', '..', '..', 'infra', 'eip-associator', 'template.yaml'),
    logicalId: 'Function',
    parameters: {
      AutoScalingGroupName: COMPOSED_GROUP,
      LaunchHookName: EIP_HOOK,
      EipPoolName: COMPOSED_POOL_TAGS['netkit:eip-pool'],
    },
  });
  const eniAttach = isolatedBundle(resolve(ENI_ATTACH_DIR, 'dist'), 'index', {
    ...eniAttachFn.env,
    ...QUIET,
    SUBNET_MAP: JSON.stringify({ [az]: targetSubnet }),
    SECURITY_GROUP_IDS: targetSg,
    DEVICE_INDEX: '1',
    AUTO_SCALING_GROUP_NAME: COMPOSED_GROUP,
    LIFECYCLE_HOOK_NAMES: ENI_HOOK,
  });
  const eipAssociator = isolatedBundle(options.distDir, 'index', {
    ...eipAssociatorFn.env,
    ...QUIET,
    EIP_POOL_TAGS: JSON.stringify(COMPOSED_POOL_TAGS),
    ASSOCIATE_TIMEOUT_SECONDS: '40',
    AUTO_SCALING_GROUP_NAME: COMPOSED_GROUP,
    LIFECYCLE_HOOK_NAMES: EIP_HOOK,
  });

  if (options.describeLagMs) await emulator.configure({ describeLagMs: options.describeLagMs });
  if (options.attachLagMs) await emulator.configure({ attachLagMs: options.attachLagMs });
  if (options.associateLagMs) await emulator.configure({ associateLagMs: options.associateLagMs });
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 'm5.large',
      MinCount: launches,
      MaxCount: launches,
      SubnetId: sourceSubnet,
      // The tag Auto Scaling puts on the instances it launches (both templates scope IAM with it).
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'aws:autoscaling:groupName', Value: COMPOSED_GROUP }] },
      ],
    }),
  );
  const instances = (run.Instances ?? []).map((i) => i.InstanceId!);
  const primaryOf = new Map(
    (run.Instances ?? []).map((i) => [
      i.InstanceId!,
      i.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === 0)?.NetworkInterfaceId,
    ]),
  );
  const begin = async (instanceId: string, hookName: string) => {
    const token = await emulator.lifecycle.begin({
      groupName: COMPOSED_GROUP,
      hookName,
      instanceId,
      transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    });
    return lifecycleEventFor('launch', instanceId, token, {
      region: emulator.region,
      group: COMPOSED_GROUP,
      hook: hookName,
    });
  };
  const eniEvents = await Promise.all(instances.map((id) => begin(id, ENI_HOOK)));
  const eipEvents = await Promise.all(instances.map((id) => begin(id, EIP_HOOK)));

  step(
    `${launches} launches; both hooks' events delivered at the same time${options.describeLagMs ? ` (EC2 Describe lags ${options.describeLagMs} ms behind each launch)` : ''}`,
  );
  const [eniResults, eipResults] = await Promise.all([
    Promise.all(eniEvents.map((e) => eniAttach.handler(e, lambdaContext()) as Promise<Outcome>)),
    Promise.all(eipEvents.map((e) => eipAssociator.handler(e, lambdaContext()) as Promise<Outcome>)),
  ]);

  // Check with the lag off: the checks describe the instances just launched.
  if (options.describeLagMs || options.attachLagMs || options.associateLagMs) {
    await emulator.configure({ describeLagMs: 0, attachLagMs: 0, associateLagMs: 0 });
  }
  const checks: Record<string, boolean> = {};
  const enis = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'attachment.instance-id', Values: instances }],
    }),
  );
  const addresses = await ec2.send(new DescribeAddressesCommand({ AllocationIds: pool }));
  let eniOk = true;
  let eipOk = true;
  for (const id of instances) {
    const attached = (enis.NetworkInterfaces ?? []).filter((n) => n.Attachment?.InstanceId === id);
    const extra = attached.filter((n) => n.Attachment?.DeviceIndex !== 0);
    if (
      extra.length !== 1 ||
      extra[0]!.Attachment?.DeviceIndex !== 1 ||
      extra[0]!.VpcId !== targetVpc ||
      extra[0]!.Attachment?.DeleteOnTermination !== true
    ) {
      eniOk = false;
    }
    const held = (addresses.Addresses ?? []).filter((a) => a.InstanceId === id);
    if (held.length !== 1 || !primaryOf.get(id) || held[0]!.NetworkInterfaceId !== primaryOf.get(id)) {
      eipOk = false;
      const i = instances.indexOf(id);
      step(
        `${id}: ${held.length} pool EIPs (${held.map((a) => a.NetworkInterfaceId).join(', ')}), primary ${primaryOf.get(id)}; eip-associator said ${eipResults[i]?.status} ${eipResults[i]?.reason ?? ''}`,
      );
    }
  }
  checks['every instance has one target-VPC ENI at device index 1'] = eniOk;
  checks['every instance has one pool EIP on its primary interface'] = eipOk;
  const completions = (await emulator.lifecycle.completions()).filter((c) => c.groupName === COMPOSED_GROUP);
  const continued = (hook: string) =>
    completions.filter((c) => c.hookName === hook && c.result === 'CONTINUE').map((c) => c.instanceId);
  checks['both hooks completed CONTINUE for every instance'] =
    completions.length === 2 * launches &&
    new Set(continued(ENI_HOOK)).size === launches &&
    new Set(continued(EIP_HOOK)).size === launches;
  for (const [name, ok] of Object.entries(checks)) step(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
  return { checks, instances, eipResults, eniResults };
}
