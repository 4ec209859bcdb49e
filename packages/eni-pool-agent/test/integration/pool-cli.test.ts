import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { tagFilters } from '@netkit/aws-core/tags';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { distDir, ensureBuilt } from '../support/dist.ts';

const emu = useEmulator({ region: 'ap-northeast-1' });
const TAGS = { 'netkit:eni-pool': 'licence' };

beforeAll(() => ensureBuilt());

function pool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distDir, 'pool.mjs'), ...args],
      { env: { PATH: process.env.PATH, ...emu().env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('pool CLI (dist/pool.mjs) on the emulator', () => {
  it('creates a pool from a subnet and an IP range once, however often it is run, and shows its status', async () => {
    // Prepare
    const ec2 = new EC2Client(emu().clientConfig);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.0.1.0/24',
        AvailabilityZone: 'ap-northeast-1c',
      }),
    );
    const create = [
      'create',
      '--subnet',
      subnet.Subnet?.SubnetId ?? '',
      '--ip-range',
      '10.0.1.10-10.0.1.15',
      '--hostname-pattern',
      'server-c{n}',
      '--tags',
      JSON.stringify(TAGS),
      '--json',
    ];

    // Act
    const first = await pool(create);
    const second = await pool(create);
    const status = await pool(['status', '--tags', JSON.stringify(TAGS)]);

    // Assess
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).map((r: { action: string }) => r.action)).toEqual(
      Array(6).fill('created'),
    );
    expect(JSON.parse(second.stdout).map((r: { action: string }) => r.action)).toEqual(
      Array(6).fill('exists'),
    );
    const enis =
      (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(TAGS) })))
        .NetworkInterfaces ?? [];
    expect(enis).toHaveLength(6);
    expect(status.code).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ENI\s+IP\s+AZ\s+STATE\s+INSTANCE\s+HOSTNAME$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1, 6))).toEqual(
      [10, 11, 12, 13, 14, 15].map((n, i) => [
        `10.0.1.${n}`,
        'ap-northeast-1c',
        'available',
        '-',
        `server-c${i + 1}`,
      ]),
    );
  });

  it('a rerun after a failed run creates real ENIs again, and a changed hostname pattern is no token mismatch', async () => {
    // Prepare: the emulator answers a reused ClientToken with the first ENI, even once deleted.
    const ec2 = new EC2Client(emu().clientConfig);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.0.1.0/24',
        AvailabilityZone: 'ap-northeast-1c',
      }),
    );
    const create = (pattern: string) => [
      'create',
      '--subnet',
      subnet.Subnet?.SubnetId ?? '',
      '--ip-range',
      '10.0.1.20-10.0.1.23',
      '--hostname-pattern',
      pattern,
      '--tags',
      JSON.stringify(TAGS),
      '--json',
    ];
    const poolEnis = async () =>
      (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(TAGS) })))
        .NetworkInterfaces ?? [];
    await emu().injectFault({
      service: 'ec2',
      action: 'CreateNetworkInterface',
      nth: 3,
      code: 'InsufficientFreeAddressesInSubnet',
    });

    // Act: the first run fails at the third address and deletes the two it created.
    const failed = await pool(create('server-c{n}'));

    // Assess
    expect(failed.code).not.toBe(0);
    expect(await poolEnis()).toHaveLength(0);

    // Act: rerun, with another hostname pattern.
    const rerun = await pool(create('proxy-c{n}'));

    // Assess: four real ENIs, reported as created, with the new hostnames.
    expect(rerun.code).toBe(0);
    const rows = JSON.parse(rerun.stdout) as { action: string; networkInterfaceId: string }[];
    expect(rows.map((r) => r.action)).toEqual(Array(4).fill('created'));
    const enis = await poolEnis();
    expect(enis.map((e) => e.NetworkInterfaceId).sort()).toEqual(
      rows.map((r) => r.networkInterfaceId).sort(),
    );
    expect(enis.map((e) => e.TagSet?.find((t) => t.Key === 'HostName')?.Value).sort()).toEqual([
      'proxy-c1',
      'proxy-c2',
      'proxy-c3',
      'proxy-c4',
    ]);
  });

  it('refuses a range outside the subnet with exit code 2 and creates nothing', async () => {
    const ec2 = new EC2Client(emu().clientConfig);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.0.1.0/24',
        AvailabilityZone: 'ap-northeast-1c',
      }),
    );
    const run = await pool([
      'create',
      '--subnet',
      subnet.Subnet?.SubnetId ?? '',
      '--ip-range',
      '10.0.1.254-10.0.2.1',
      '--tags',
      JSON.stringify(TAGS),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/10\.0\.1\.255 is reserved by AWS/);
    expect(run.stderr).toMatch(/10\.0\.2\.0 is outside the subnet/);
    const calls = await emu().calls();
    expect(calls['ec2:CreateNetworkInterface']).toBeUndefined();
  });
});
