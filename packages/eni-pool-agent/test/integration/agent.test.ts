import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { tagFilters } from '@netkit/aws-core/tags';
import { useEmulator } from '@netkit/local-aws/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distDir, ensureBuilt } from '../support/dist.ts';
import { type ImdsFixture, startImdsFixture } from '../support/imds-server.ts';
import { buildWorld, launch, POOL_TAGS } from '../support/world.ts';

const emu = useEmulator({ region: 'ap-northeast-1' });
const AZ = 'ap-northeast-1a';
let bin: string;

beforeAll(() => {
  ensureBuilt();
  // A stand-in hostnamectl/shutdown first on PATH: the tests never touch this machine.
  bin = mkdtempSync(join(tmpdir(), 'eni-pool-agent-bin-'));
  for (const command of ['hostnamectl', 'shutdown']) {
    const script = join(bin, command);
    writeFileSync(script, `#!/bin/sh\necho "${command} $*" >> "${bin}/calls.log"\n`);
    chmodSync(script, 0o755);
  }
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

interface Run {
  code: number;
  report: Record<string, unknown>;
  stderr: string;
}

function runAgent(imds: ImdsFixture, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distDir, 'agent.mjs'), ...args],
      {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          ...emu().env,
          AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
          ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, report: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'), stderr });
      },
    );
  });
}

const hostCalls = () => {
  try {
    return readFileSync(join(bin, 'calls.log'), 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};

describe('agent (dist/agent.mjs) against the emulator and an IMDSv2 stand-in', () => {
  it('attaches the lowest pool ENI, sets and reports the hostname; 3 ENIs for 4 racing agents -> one exits 4', async () => {
    // Prepare: 3 pool ENIs in the AZ, 4 instances booting together, each with its own IMDS
    const ec2 = new EC2Client(emu().clientConfig);
    const [zone] = await buildWorld(ec2, [AZ], 3);
    const instances = await launch(ec2, zone!.subnetId, 4);
    const fixtures = await Promise.all(
      instances.map((instanceId) => startImdsFixture({ instanceId, availabilityZone: AZ })),
    );
    rmSync(join(bin, 'calls.log'), { force: true });

    try {
      // Act
      // A loser of the race polls until Describe shows the winner; 20 s keeps that inside the budget on a loaded machine.
      const runs = await Promise.all(fixtures.map((f) => runAgent(f, ['--timeout', '20'])));

      // Assess
      const ok = runs.filter((r) => r.code === 0);
      const failed = runs.filter((r) => r.code !== 0);
      expect(ok).toHaveLength(3);
      expect(failed.map((r) => [r.code, r.report.status])).toEqual([[4, 'failed']]);
      expect(String(failed[0]?.report.error), JSON.stringify(failed[0]?.report)).toMatch(
        /No available pool ENI in ap-northeast-1a/,
      );
      expect(ok.map((r) => r.report.privateIp).sort()).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6']);
      for (const r of ok) {
        expect(r.report).toMatchObject({
          status: 'attached',
          hostnameSet: true,
          availabilityZone: AZ,
          region: 'ap-northeast-1',
        });
        expect(r.report.hostname).toBe(`server-a${Number(String(r.report.privateIp).split('.')[3]) - 3}`);
      }
      expect(hostCalls().sort()).toEqual([
        'hostnamectl set-hostname server-a1',
        'hostnamectl set-hostname server-a2',
        'hostnamectl set-hostname server-a3',
      ]);
      const enis =
        (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(POOL_TAGS) })))
          .NetworkInterfaces ?? [];
      const owners = enis.map((ni) => ni.Attachment?.InstanceId);
      expect(new Set(owners).size).toBe(3);
      const loser = instances[runs.findIndex((r) => r.code !== 0)];
      expect(owners).not.toContain(loser);
      // IMDSv2 only: every metadata GET carried a token
      for (const f of fixtures)
        expect(f.requests.every((q) => q.method === 'PUT' || q.authorized)).toBe(true);

      // Act: run again on an instance that already has its ENI (user data re-run)
      const again = await runAgent(fixtures[runs.findIndex((r) => r.code === 0)]!, ['--no-hostname']);
      expect(again).toMatchObject({ code: 0, report: { status: 'already-held' } });
    } finally {
      await Promise.all(fixtures.map((f) => f.close()));
    }
  });

  it('shuts the instance down on failure only with --on-failure shutdown, and exits 3 without IMDS', async () => {
    const ec2 = new EC2Client(emu().clientConfig);
    const [zone] = await buildWorld(ec2, [AZ], 0);
    const [instanceId] = await launch(ec2, zone!.subnetId, 1);
    const imds = await startImdsFixture({ instanceId: instanceId!, availabilityZone: AZ });
    rmSync(join(bin, 'calls.log'), { force: true });
    try {
      const run = await runAgent(imds, ['--timeout', '10', '--on-failure', 'shutdown']);
      expect(run).toMatchObject({ code: 4, report: { status: 'failed', shutdown: true } });
      expect(hostCalls()).toEqual(['shutdown -h now']);
    } finally {
      await imds.close();
    }
    const unreachable = await runAgent({ endpoint: 'http://127.0.0.1:1' } as ImdsFixture, []);
    expect(unreachable.code).toBe(3);
    expect(String(unreachable.report.error)).toMatch(
      /Cannot reach the instance metadata service at http:\/\/127\.0\.0\.1:1/,
    );
  });
});
