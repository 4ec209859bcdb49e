import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, DEMO_CLI, runTsx } from './helpers.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const REPO_FIXTURE = join(FIXTURES, 'repo');
const OTHER_FIXTURE = join(FIXTURES, 'other-repo');

interface JsonScenario {
  name: string;
  status: string;
  ok: boolean;
  summary: string;
  error?: string;
  awsCalls: number;
  callsByAction: Record<string, number>;
  durationMs: number;
  details?: Record<string, unknown>;
  logTail?: string[];
}

const demo = (args: string[], env: Record<string, string> = {}) => runTsx(DEMO_CLI, args, env, 240_000);

describe('pnpm demo (fixture scenarios)', () => {
  beforeAll(() => {
    // The fixtures are built with the shared build base (tools/build), like the packages.
    for (const name of ['pass', 'fail', 'throw']) buildPackage(join(REPO_FIXTURE, 'packages', name));
    buildPackage(join(OTHER_FIXTURE, 'packages', 'hang'));
    rmSync(join(OTHER_FIXTURE, 'packages', 'nodist', 'dist'), { recursive: true, force: true });
  }, 120_000);

  it('runs every scenario, prints a summary table and exits 1 when one fails or throws', async () => {
    const run = await demo(['--root', REPO_FIXTURE]);

    expect(run.code).toBe(1);
    const table = run.stdout.slice(run.stdout.indexOf('scenario  result'));
    expect(table).toMatch(/^fail\s+FAIL\s+2\s+\S+ m?s\s+expected 3 EIPs, found 2$/m);
    expect(table).toMatch(/^pass\s+PASS\s+1\s+\S+ m?s\s+greetings hello\/bye, lazy hello\/bye, 1 VPC$/m);
    expect(table).toMatch(/^throw\s+ERROR\s+0\s+\S+ m?s\s+boom: the fixture throws$/m);
    expect(table).toContain('1/3 scenarios passed');
    // Progress: one line per step, plain wait lines (not a TTY), the failing scenario's output shown.
    expect(run.stdout).toContain('• describing VPCs twice');
    expect(run.stdout).toContain('… describing VPCs');
    expect(run.stdout).toMatch(/✔ describing VPCs \(\d/);
    expect(run.stdout).toContain('fixture log line before failing');
  });

  it('runs only the named scenario with --only and exits 0 when it passes', async () => {
    const run = await demo(['--root', REPO_FIXTURE, '--only', 'pass']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^pass\s+PASS\s+1\s/m);
    expect(run.stdout).not.toMatch(/^fail\s/m);
    expect(run.stdout).toContain('1/1 scenarios passed');
    // The bundle's own log lines are kept out of a passing run's output.
    expect(run.stdout).not.toContain('fixture handler ran');
  });

  it('prints only machine-readable results with --json', async () => {
    const run = await demo(['--root', REPO_FIXTURE, '--json', '--fast']);

    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { ok: boolean; fast: boolean; scenarios: JsonScenario[] };
    expect(report.ok).toBe(false);
    expect(report.fast).toBe(true);
    expect(report.scenarios.map((s) => [s.name, s.status, s.awsCalls])).toEqual([
      ['fail', 'fail', 2],
      ['pass', 'pass', 1],
      ['throw', 'error', 0],
    ]);
    const [fail, pass, thrown] = report.scenarios;
    expect(fail!.callsByAction).toEqual({ 'ec2:DescribeVpcs': 2 });
    expect(fail!.logTail).toContain('fixture log line before failing');
    // Each loadBundle is a fresh instance, its lazily loaded chunk too, and sees the emulator's env.
    expect(pass!.details).toMatchObject({
      first: { greeting: 'hello', lazyGreeting: 'hello', region: 'us-east-1' },
      second: { greeting: 'bye', lazyGreeting: 'bye' },
      fast: true,
    });
    expect(thrown!.error).toContain('boom: the fixture throws');
    expect(run.stderr).toContain('▶ pass');
  });

  it('rejects an unknown --only with the list of valid names and exit code 2', async () => {
    const run = await demo(['--root', REPO_FIXTURE, '--only', 'nat-reeper']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Unknown --only "nat-reeper". Valid names: fail, pass, throw.');
    expect(run.stdout).toBe('');
  });

  it('tells the user to run pnpm build when a package has no dist, before starting the emulator', async () => {
    const run = await demo(['--root', OTHER_FIXTURE, '--only', 'nodist', '--json']);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/No built bundle for nodist .*Run `pnpm build` first/);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false });
    expect(run.stderr).not.toContain('starting the local AWS emulator');
  });

  it('names the pip command when moto cannot be started', async () => {
    const run = await demo(['--root', REPO_FIXTURE, '--only', 'pass'], { PYTHON: '/nonexistent/python3' });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain("pip install 'moto[server]==5.2.1'");
  });

  it('ends a scenario that exceeds --timeout as an error and still stops', async () => {
    const run = await demo(['--root', OTHER_FIXTURE, '--only', 'hang', '--timeout', '2', '--json']);

    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { scenarios: JsonScenario[] };
    expect(report.scenarios[0]).toMatchObject({ name: 'hang', status: 'error' });
    expect(report.scenarios[0]!.error).toContain('scenario hang did not finish within 2.0 s');
  });

  it('rejects a bad option with the usage text and exit code 2', async () => {
    const run = await demo(['--root', REPO_FIXTURE, '--onyl', 'pass']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown option '--onyl'");
    expect(run.stderr).toContain('Usage: pnpm demo');
  });
});
