import { beforeAll, describe, expect, it } from 'vitest';
import { discoverScenarios } from '../src/discover.ts';
import { DEMO_CLI, ensureBuilt, REPO, runTsx } from './helpers.ts';

interface JsonReport {
  ok: boolean;
  scenarios: {
    name: string;
    status: string;
    ok: boolean;
    summary: string;
    error?: string;
    logTail?: string[];
  }[];
}

// Every package's demo scenario, through its freshly built bundles, as `pnpm demo --fast --json` runs it.
describe('the demo scenarios of every package', () => {
  const scenarios = discoverScenarios(REPO);

  beforeAll(async () => {
    // A build failure fails this suite: the demo runs the artifacts that deploy.
    for (const scenario of scenarios) ensureBuilt(scenario.packageDir);
  }, 600_000);

  it('finds at least one package scenario', () => {
    expect(scenarios.map((s) => s.name).length).toBeGreaterThan(0);
  });

  it('all pass in fast mode through the CLI', async () => {
    const run = await runTsx(DEMO_CLI, ['--fast', '--json'], {}, 900_000);

    let report: JsonReport;
    try {
      report = JSON.parse(run.stdout) as JsonReport;
    } catch {
      throw new Error(`demo printed no JSON report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    }
    const failed = report.scenarios.filter((s) => !s.ok);
    expect(
      failed.map(
        (s) => `${s.name}: ${s.status}: ${s.summary}\n${s.error ?? ''}\n${(s.logTail ?? []).join('\n')}`,
      ),
    ).toEqual([]);
    expect(report.scenarios.map((s) => s.name)).toEqual(scenarios.map((s) => s.name));
    expect(report.ok).toBe(true);
    expect(run.code).toBe(0);
  }, 900_000);
});
