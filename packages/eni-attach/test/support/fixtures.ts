import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { manualClock } from '@netkit/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { type Config, loadConfig } from '../../src/config.ts';
import type { HandlerDeps } from '../../src/create-handler.ts';
import { MANAGED_BY, TAG } from '../../src/naming.ts';
import { createSubnetCatalog } from '../../src/subnets.ts';
import { recordingMetrics } from './metrics.ts';

export const INSTANCE = 'i-1234567890abcdef0';
export const AZ = 'us-east-1a';
export const SUBNET = 'subnet-0aaaaaaaaaaaaaaa1';
export const OTHER_SUBNET = 'subnet-0bbbbbbbbbbbbbbb2';
export const SG = 'sg-0aaaaaaaaaaaaaaa1';
export const VPC = 'vpc-0aaaaaaaaaaaaaaa1';

export const ec2Mock = mockClient(EC2Client);
export const asMock = mockClient(AutoScalingClient);

export function config(env: Record<string, string> = {}): Config {
  return loadConfig({
    AUTO_SCALING_GROUP_NAME: 'my-asg',
    SUBNET_MAP: JSON.stringify({ [AZ]: SUBNET, 'us-east-1b': OTHER_SUBNET }),
    SECURITY_GROUP_IDS: SG,
    ...env,
  });
}

/** Deps with a manual clock (waits are instant) and fixed jitter. */
export function deps(cfg: Config = config()) {
  const clock = manualClock();
  const launchDeps: HandlerDeps & { metrics: ReturnType<typeof recordingMetrics> } = {
    ec2: new EC2Client({ region: 'us-east-1' }),
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    logger: silentLogger,
    clock,
    random: () => 0.5,
    catalog: createSubnetCatalog(cfg.attachments),
    metrics: recordingMetrics(),
  };
  return { deps: launchDeps, clock, config: cfg };
}

/** The EC2 world as the Describe calls see it: valid subnets and groups, a running instance. */
export function validWorld(
  instance: {
    state?: string;
    az?: string;
    extra?: { id: string; index: number; description?: string }[];
  } = {},
) {
  ec2Mock.on(DescribeSubnetsCommand).resolves({
    Subnets: [
      { SubnetId: SUBNET, AvailabilityZone: AZ, VpcId: VPC },
      { SubnetId: OTHER_SUBNET, AvailabilityZone: 'us-east-1b', VpcId: VPC },
    ],
  });
  ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, VpcId: VPC }] });
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            State: { Name: (instance.state ?? 'running') as 'running' },
            Placement: { AvailabilityZone: instance.az ?? AZ },
            NetworkInterfaces: [
              { NetworkInterfaceId: 'eni-0primary000000000', Attachment: { DeviceIndex: 0 } },
              ...(instance.extra ?? []).map((e) => ({
                NetworkInterfaceId: e.id,
                Description: e.description,
                Attachment: { DeviceIndex: e.index },
              })),
            ],
          },
        ],
      },
    ],
  });
  asMock.on(CompleteLifecycleActionCommand).resolves({});
}

/** An ENI of ours as DescribeNetworkInterfaces returns it. */
export function ownEni(
  id: string,
  options: {
    deviceIndex?: number;
    attached?: boolean;
    deleteOnTermination?: boolean;
    subnetId?: string;
  } = {},
): NetworkInterface {
  const deviceIndex = options.deviceIndex ?? 1;
  const eni: NetworkInterface = {
    NetworkInterfaceId: id,
    SubnetId: options.subnetId ?? SUBNET,
    Status: options.attached ? 'in-use' : 'available',
    TagSet: [
      { Key: TAG.managedBy, Value: MANAGED_BY },
      { Key: TAG.instanceId, Value: INSTANCE },
      { Key: TAG.deviceIndex, Value: String(deviceIndex) },
    ],
  };
  if (options.attached) {
    eni.Attachment = {
      AttachmentId: `eni-attach-${id.slice(4)}`,
      InstanceId: INSTANCE,
      DeviceIndex: deviceIndex,
      Status: 'attached',
      DeleteOnTermination: options.deleteOnTermination ?? true,
    };
  }
  return eni;
}

/** An AWS SDK style service error. */
export function awsError(name: string, fault: 'client' | 'server' = 'client', message = name): Error {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: 400 } });
}
