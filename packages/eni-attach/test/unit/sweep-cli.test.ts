// The sweeper from a shell (dist/sweep-cli.mjs): --help and a bad argument make no AWS call, and a
// run without --apply is a dry run that deletes nothing.
import { DeleteNetworkInterfaceCommand, DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { MANAGED_BY, TAG } from '../../src/naming.ts';
import { runSweepCli, SWEEP_USAGE } from '../../src/run-sweep-cli.ts';
import { ec2Mock } from '../support/fixtures.ts';

const ENV = { AWS_REGION: 'us-east-1' };

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

const orphan = {
  NetworkInterfaceId: 'eni-0old000000000000',
  Status: 'available' as const,
  TagSet: [
    { Key: TAG.managedBy, Value: MANAGED_BY },
    { Key: TAG.createdAt, Value: '2020-01-01T00:00:00Z' },
  ],
};

beforeEach(() => {
  ec2Mock.reset();
  ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [orphan] });
  ec2Mock.on(DeleteNetworkInterfaceCommand).resolves({});
});

describe('sweep-cli', () => {
  it.each([['--help'], ['-h']])('%s prints the usage and calls nothing', async (flag) => {
    const r = io();
    expect(await runSweepCli([flag], ENV, r.io)).toBe(0);
    expect(r.out.join('')).toContain(SWEEP_USAGE);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it.each([
    ['--yes-please'],
    ['extra'],
    ['--region'],
  ])('%s is a usage error (exit 2) and calls nothing', async (arg) => {
    const r = io();
    expect(await runSweepCli([arg], ENV, r.io)).toBe(2);
    expect(r.err.join('')).toContain('Usage: node sweep-cli.mjs');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('without --apply is a dry run: reports the orphan and deletes nothing', async () => {
    const r = io();
    expect(await runSweepCli([], ENV, r.io)).toBe(0);
    const report = JSON.parse(r.out.join('')) as { dryRun: boolean; wouldDelete: unknown[] };
    expect(report.dryRun).toBe(true);
    expect(report.wouldDelete).toHaveLength(1);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
    expect(r.err.join('')).toContain('pass --apply');
  });

  it('--apply deletes the orphan; SWEEP_DRY_RUN=true still wins', async () => {
    expect(await runSweepCli(['--apply'], ENV, io().io)).toBe(0);
    expect(ec2Mock).toHaveReceivedCommandWith(DeleteNetworkInterfaceCommand, {
      NetworkInterfaceId: orphan.NetworkInterfaceId,
    });
    ec2Mock.resetHistory();
    expect(await runSweepCli(['--apply'], { ...ENV, SWEEP_DRY_RUN: 'true' }, io().io)).toBe(0);
    expect(ec2Mock).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
  });

  it('a bad configuration is exit 2', async () => {
    const r = io();
    expect(await runSweepCli([], { ...ENV, SWEEP_MAX_DELETES: 'many' }, r.io)).toBe(2);
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});
