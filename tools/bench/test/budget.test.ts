import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../demo/test/helpers.ts';
import { type BundleFile, bundledPackages, findBundles, missingDists, REPO_ROOT } from '../src/bundles.ts';
import { measureColdStart } from '../src/coldstart.ts';

interface Budgets {
  defaultKiB: number;
  coldStartCheckRatio: number;
  bundles: Record<string, number>;
}

const budgets = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '..', 'budgets.json'), 'utf8'),
) as Budgets;

// The size budget and the cold-start bound of every Lambda bundle, on freshly built dists.
describe('bundle budgets', () => {
  const packages = bundledPackages();
  let bundles: BundleFile[] = [];

  beforeAll(async () => {
    for (const pkg of packages) ensureBuilt(join(REPO_ROOT, 'packages', pkg));
    bundles = findBundles();
  }, 600_000);

  it('every package with a build.mjs has its bundles in dist', () => {
    expect(packages.length).toBeGreaterThan(0);
    expect(missingDists()).toEqual([]);
    expect(new Set(bundles.map((b) => b.package))).toEqual(new Set(packages));
  });

  it('every bundle stays within its size budget (KiB loaded at import)', () => {
    const over = bundles
      .map((b) => ({
        id: b.id,
        kib: Math.round((b.bytes / 1024) * 10) / 10,
        budget: budgets.bundles[b.id] ?? budgets.defaultKiB,
      }))
      .filter((b) => b.kib > b.budget)
      .map((b) => `${b.id}: ${b.kib} KiB > budget ${b.budget} KiB`);

    expect(over).toEqual([]);
  });

  it('every bundle imports within the cold-start bound of bare node (fastest-run ratio by wall and CPU time, clean start)', () => {
    // The clean (Lambda-like) baseline: the same for every caller. turbo's strict env mode drops
    // NODE_EXTRA_CA_CERTS, which changes the cost of a bare node start and so the machine ratio.
    const rows = measureColdStart(bundles, {
      runs: 5,
      baselines: ['lambda'],
      confirm: { baseline: 'lambda', bound: budgets.coldStartCheckRatio, rounds: 3 },
    });

    const problems = rows
      .filter(
        (r) =>
          r.error !== undefined ||
          Math.min(r.lambda?.ratio ?? Infinity, r.lambda?.cpuRatio ?? Infinity) > budgets.coldStartCheckRatio,
      )
      .map(
        (r) =>
          r.error ??
          `${r.id}: ${r.lambda?.ratio}x wall and ${r.lambda?.cpuRatio}x CPU, clean start > ${budgets.coldStartCheckRatio}x`,
      );
    expect(problems).toEqual([]);
  }, 600_000);
});
