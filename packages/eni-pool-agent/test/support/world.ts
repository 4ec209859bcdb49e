// A small "seed scenario" world on the emulator: a VPC with one subnet per AZ,
// a pool of fixed-IP ENIs per subnet (created with the pool CLI's core), and
// instances launched the way Auto Scaling would (tagged with the group name).
import { resolve } from 'node:path';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  type EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { createPool, type PoolRow } from '../../src/create-pool.ts';

export const POOL_TAGS = { 'netkit:eni-pool': 'seed-app' };
export const GROUP = 'EC2-Auto-Scaling';
export const HOOK = 'eni-pool-launch';
export const TERMINATE_HOOK = 'eni-pool-terminate';

/** Lambda mode's function in its SAM template, with the parameters of this world. */
export const TEMPLATE_FUNCTION = {
  template: resolve(import.meta.dirname, '../../../../infra/eni-pool-agent/template.yaml'),
  logicalId: 'Function',
  parameters: {
    AutoScalingGroupName: GROUP,
    PoolName: POOL_TAGS['netkit:eni-pool'],
    LaunchHookName: HOOK,
    TerminateHookName: TERMINATE_HOOK,
  },
};

export interface Zone {
  az: string;
  subnetId: string;
  cidr: string;
  pool: PoolRow[];
}

/** One subnet 10.0.<i>.0/24 per AZ and `perAz` pool ENIs at 10.0.<i>.4.. with hostnames server-<letter><n>. */
export async function buildWorld(ec2: EC2Client, azs: string[], perAz: number): Promise<Zone[]> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const zones: Zone[] = [];
  for (const [i, az] of azs.entries()) {
    const cidr = `10.0.${i}.0/24`;
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpc.Vpc?.VpcId, CidrBlock: cidr, AvailabilityZone: az }),
    );
    const subnetId = subnet.Subnet?.SubnetId ?? '';
    const ips = [...Array(perAz)].map((_, n) => `10.0.${i}.${4 + n}`);
    const pool = await createPool(
      {
        subnetId,
        ips,
        hostnamePattern: `server-${az.at(-1)}{n}`,
        tags: POOL_TAGS,
        hostnameTag: 'HostName',
      },
      { ec2, clock: systemClock, logger: silentLogger },
    );
    zones.push({ az, subnetId, cidr, pool });
  }
  return zones;
}

/** Launch `count` instances in a subnet, tagged like Auto Scaling does. */
export async function launch(ec2: EC2Client, subnetId: string, count: number): Promise<string[]> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.small',
      MinCount: count,
      MaxCount: count,
      SubnetId: subnetId,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'aws:autoscaling:groupName', Value: GROUP }] },
      ],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId ?? '');
}

export async function terminate(ec2: EC2Client, instanceIds: string[]): Promise<void> {
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
}

/** Numeric IPv4 order for assertions. */
export const ipKey = (ip: string) => ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
