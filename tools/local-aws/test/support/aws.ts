import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  type _InstanceType,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { expect } from 'vitest';
import type { Emulator } from '../../src/index.ts';

export function clients(emu: Emulator) {
  const config = { ...emu.clientConfig, maxAttempts: 1 };
  return {
    ec2: new EC2Client(config),
    autoscaling: new AutoScalingClient(config),
    cfn: new CloudFormationClient(config),
    ecs: new ECSClient(config),
  };
}

export interface AwsErrorShape {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
}

/** Awaits a rejected SDK call and returns the error, asserting the AWS error code (and status). */
export async function awsError(
  promise: Promise<unknown>,
  code: string,
  status?: number,
): Promise<AwsErrorShape> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  const error = caught as AwsErrorShape;
  expect(error.name).toBe(code);
  if (status !== undefined) expect(error.$metadata.httpStatusCode).toBe(status);
  return error;
}

export interface Network {
  vpcId: string;
  subnetA: string;
  subnetB: string;
  azA: string;
  azB: string;
}

export async function network(ec2: EC2Client, region = 'us-east-1'): Promise<Network> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const azA = `${region}a`;
  const azB = `${region}b`;
  const a = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.1.0/24', AvailabilityZone: azA }),
  );
  const b = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.2.0/24', AvailabilityZone: azB }),
  );
  return { vpcId, subnetA: a.Subnet!.SubnetId!, subnetB: b.Subnet!.SubnetId!, azA, azB };
}

export async function launch(
  ec2: EC2Client,
  subnetId: string,
  count = 1,
  instanceType: _InstanceType = 't3.micro',
): Promise<Instance[]> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: instanceType,
      MinCount: count,
      MaxCount: count,
      SubnetId: subnetId,
    }),
  );
  return out.Instances!;
}
