import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackage } from '../../demo/test/helpers.ts';
import { type BundleFile, findBundles } from '../src/bundles.ts';
import { measureColdStart, runChild, runSpecFor } from '../src/coldstart.ts';

const FIXTURE_ROOT = resolve(import.meta.dirname, 'fixtures', 'repo');

describe('cold-start measurement', () => {
  let bundles: BundleFile[];

  beforeAll(() => {
    buildPackage(join(FIXTURE_ROOT, 'packages', 'tiny'));
    bundles = findBundles(FIXTURE_ROOT);
  }, 120_000);

  it('finds each entry of a dist with its size', () => {
    expect(bundles.map((b) => b.id)).toEqual(['tiny/heavy.mjs', 'tiny/index.mjs']);
    for (const b of bundles) {
      expect(b.bytes).toBeGreaterThan(0);
      expect(b.totalBytes).toBeGreaterThanOrEqual(b.bytes);
    }
  });

  it('meets the target for a bundle that loads almost nothing and misses it for an expensive module scope', () => {
    const rows = measureColdStart(bundles, { runs: 5 });

    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId['tiny/index.mjs']).toMatchObject({ met: true, runs: 5 });
    expect(byId['tiny/index.mjs']!.error).toBeUndefined();
    expect(byId['tiny/heavy.mjs']).toMatchObject({ met: false });
    expect(byId['tiny/heavy.mjs']!.cpuRatio).toBeGreaterThan(2);
    expect(byId['tiny/heavy.mjs']!.ratio).toBeGreaterThan(byId['tiny/index.mjs']!.ratio);
  });

  it('measures more runs only for a bundle over the confirm bound, and the ratio is of the fastest runs', () => {
    const progress: string[] = [];
    const rows = measureColdStart(bundles, {
      runs: 2,
      baselines: ['lambda'],
      confirm: { baseline: 'lambda', bound: 1.0, rounds: 2 },
      onProgress: (m) => progress.push(m),
    });
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    // The extra runs come only after every bundle's first set, not right after its own.
    const firstAgain = progress.findIndex((m) => m.includes(' again '));
    expect(firstAgain).toBeGreaterThan(progress.lastIndexOf('cold start: tiny/index.mjs'));
    expect(firstAgain).toBeGreaterThan(progress.lastIndexOf('cold start: tiny/heavy.mjs'));

    // heavy.mjs is always over 1.0x, so both extra rounds run; index.mjs is measured again only
    // while it is over 1.0x too, never more than the rounds allow.
    expect(byId['tiny/heavy.mjs']).toMatchObject({ runs: 6 });
    expect(byId['tiny/heavy.mjs']!.lambda).toMatchObject({ baseline: 'lambda', pairs: 6 });
    expect(byId['tiny/index.mjs']!.runs).toBeLessThanOrEqual(6);
    for (const row of rows) expect(row.ratio).toBeCloseTo(row.importMs / row.bareMs, 1);

    const relaxed = measureColdStart(bundles, {
      runs: 2,
      baselines: ['lambda'],
      confirm: { baseline: 'lambda', bound: 1000, rounds: 2 },
    });
    expect(relaxed.map((r) => r.runs)).toEqual([2, 2]);
  });

  it('reports a bundle that cannot load as an error, not a ratio', () => {
    const [row] = measureColdStart(
      bundles.filter((b) => b.id === 'tiny/index.mjs'),
      {
        runs: 2,
        specFor: () => ({ mode: 'run', args: [], env: {}, exitCode: 7 }),
      },
    );

    expect(row).toMatchObject({ met: false, runs: 0, ratio: 0 });
    expect(row!.error).toContain('exit 0 (expected 7)');
  });

  it('gives each package the environment its module-scope config needs', () => {
    const spec = runSpecFor({ id: 'eip-associator/index.mjs', package: 'eip-associator' });
    const agent = runSpecFor({ id: 'eni-pool-agent/agent.mjs', package: 'eni-pool-agent' });

    expect(spec).toMatchObject({ mode: 'import', exitCode: 0 });
    expect(spec.env['EIP_POOL_TAGS']).toBeDefined();
    expect(spec.env['AWS_REGION']).toBe('us-east-1');
    expect(agent).toMatchObject({ mode: 'run', args: ['--help'] });
  });

  it('measures a bare node start with CPU time reported by the preloaded hook', () => {
    const run = runChild({ kind: 'bare' });

    expect(run.ok).toBe(true);
    expect(run.cpuMs).toBeGreaterThan(0);
    expect(run.wallMs).toBeGreaterThan(0);
  });
});
