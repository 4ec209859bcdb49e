import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteNatGatewayCommand,
  DeleteVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients } from './support/aws.ts';

// CreateTags bucket is 100 tokens refilling 10/s in AWS; burst 0.2 -> 20 tokens (refill stays 10/s).
const emu = useEmulator({ throttle: { scale: 1, burst: 0.2 } });

async function vpcId(ec2: EC2Client): Promise<string> {
  const out = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }));
  return out.Vpc!.VpcId!;
}

describe('EC2 throttling (token buckets)', () => {
  it('answers part of an 80-call CreateTags burst with HTTP 503 RequestLimitExceeded when retries are off', async () => {
    const { ec2 } = clients(emu());
    await emu().configure({ throttle: { scale: 0.1, burst: 0.2 } }); // 20 tokens, refill 1/s: load-independent
    const id = await vpcId(ec2);
    const results = await Promise.allSettled(
      Array.from({ length: 80 }, (_, i) =>
        ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: `k${i}`, Value: 'v' }] })),
      ),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(20);
    const error = rejected[0]!.reason as {
      name: string;
      message: string;
      $metadata: { httpStatusCode: number };
    };
    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.message).toBe('Request limit exceeded.');
    expect(error.$metadata.httpStatusCode).toBe(503);
    const throttled = await emu().throttled();
    expect(throttled['ec2:CreateTags']).toBe(rejected.length);
    const calls = await emu().calls();
    expect(calls['ec2:CreateTags']).toBe(80);
  });

  it('lets an SDK client with adaptive retries finish all 80 calls of a burst', async () => {
    const ec2 = new EC2Client({ ...emu().clientConfig, maxAttempts: 10, retryMode: 'adaptive' });
    const id = await vpcId(ec2);
    const outputs = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'burst', Value: String(i) }] })),
      ),
    );
    expect(outputs).toHaveLength(80);
    const throttled = (await emu().throttled())['ec2:CreateTags'] ?? 0;
    expect(throttled).toBeGreaterThan(0);
    // every throttled attempt was retried: 80 successes + the throttled attempts
    expect((await emu().calls())['ec2:CreateTags']).toBe(80 + throttled);
  });

  // DeleteNatGateway: 10 tokens * 0.2 -> 2 tokens, refill 1/s.
  const deleteNat = (ec2: EC2Client) =>
    ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: 'nat-0123456789abcdef0' }));

  it('keeps separate buckets per action: a drained DeleteNatGateway bucket does not throttle DescribeVpcs', async () => {
    const { ec2 } = clients(emu());
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => deleteNat(ec2)));
    const names = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'ok'));
    expect(names.filter((n) => n === 'RequestLimitExceeded').length).toBeGreaterThanOrEqual(3);
    expect(names.filter((n) => n === 'NatGatewayNotFound').length).toBeGreaterThanOrEqual(1);
    await ec2.send(new DescribeVpcsCommand({}));
    expect(Object.keys(await emu().throttled())).toEqual(['ec2:DeleteNatGateway']);
  });

  it('refills the bucket over time', async () => {
    const { ec2 } = clients(emu());
    await Promise.allSettled(Array.from({ length: 6 }, () => deleteNat(ec2)));
    await awsError(deleteNat(ec2), 'RequestLimitExceeded', 503);
    await new Promise((r) => setTimeout(r, 2_200)); // 1 token/s, capped at 2
    await awsError(deleteNat(ec2), 'NatGatewayNotFound', 400);
    await awsError(deleteNat(ec2), 'NatGatewayNotFound', 400);
    await awsError(deleteNat(ec2), 'RequestLimitExceeded', 503);
  });

  it('throttles Auto Scaling with one shared bucket answering HTTP 400 Throttling "Rate exceeded"', async () => {
    const { autoscaling } = clients(emu());
    // Auto Scaling bucket: 50 * 0.2 = 10 tokens.
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, () => autoscaling.send(new DescribeAutoScalingGroupsCommand({}))),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    const error = rejected[0]!.reason as {
      name: string;
      message: string;
      $metadata: { httpStatusCode: number };
    };
    expect(error.name).toBe('Throttling');
    expect(error.message).toBe('Rate exceeded');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('turns throttling off with configure and back to the start options on reset', async () => {
    const { ec2 } = clients(emu());
    // DeleteVpcEndpoints: 4 tokens * 0.2 -> 1 token, refill 0.3/s, so a second quick call is throttled.
    const deleteEndpoint = () =>
      ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: ['vpce-0123456789abcdef0'] }));
    await emu().configure({ throttle: false });
    for (let i = 0; i < 5; i++) await deleteEndpoint();
    expect(await emu().throttled()).toEqual({});
    await emu().reset();
    await deleteEndpoint();
    await awsError(deleteEndpoint(), 'RequestLimitExceeded', 503);
    expect((await emu().throttled())['ec2:DeleteVpcEndpoints']).toBe(1);
  });

  it('does not pass throttled calls to moto', async () => {
    const { ec2 } = clients(emu());
    await emu().configure({ throttle: { scale: 0.001, burst: 0.01 } }); // CreateVpc bucket: 1 token
    await ec2.send(new CreateVpcCommand({ CidrBlock: '10.2.0.0/16' }));
    await awsError(ec2.send(new CreateVpcCommand({ CidrBlock: '10.3.0.0/16' })), 'RequestLimitExceeded', 503);
    await emu().configure({ throttle: false });
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'cidr', Values: ['10.3.0.0/16'] }] }),
    );
    expect(vpcs.Vpcs).toEqual([]);
  });
});
