// Which benchmarks exist (packages/<pkg>/bench/*.ts with a default-exported Benchmark) and the
// order and lanes `pnpm bench` runs them on. No side effects at import, so tests can load it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Benchmark, BenchOptions, BenchResult } from './types.ts';

export interface BenchEntry {
  /** `cold-start` or `<package>/<file stem>`. */
  id: string;
  package?: string;
  source: string;
  /**
   * Its targets are wall-time measurements (`export const exclusive = true` in the file): it runs
   * alone, never beside another benchmark that would take CPU from it.
   */
  exclusive: boolean;
  run: (options: BenchOptions) => Promise<BenchResult>;
}

export const DEFAULT_JOBS = 2;

/** Every packages/<pkg>/bench/*.ts that default-exports a function (helpers are skipped). */
export async function discoverBenchmarks(root: string): Promise<BenchEntry[]> {
  const packagesDir = join(root, 'packages');
  if (!existsSync(packagesDir)) return [];
  const entries: BenchEntry[] = [];
  for (const pkg of readdirSync(packagesDir).sort()) {
    const benchDir = join(packagesDir, pkg, 'bench');
    if (!existsSync(benchDir)) continue;
    for (const file of readdirSync(benchDir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
      .sort()) {
      const path = join(benchDir, file);
      // Cheap pre-check so helper modules (shared code, seed baselines) are not even imported.
      const text = readFileSync(path, 'utf8');
      if (!/^export default /m.test(text)) continue;
      entries.push({
        id: `${pkg}/${file.replace(/\.ts$/, '')}`,
        package: pkg,
        source: relative(root, path),
        exclusive: /^export const exclusive = true;?$/m.test(text),
        run: async (options) => {
          const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
          if (typeof mod.default !== 'function')
            throw new Error(`${path} must default-export a Benchmark function`);
          return (mod.default as Benchmark)(options);
        },
      });
    }
  }
  return entries;
}

/**
 * The order and lanes to run `entries` on: exclusive ones first, one at a time, then the rest
 * longest first (by their last stored duration; unknown ones first) on `jobs` lanes, each lane
 * taking the next benchmark when it is free. Returns the failures.
 */
export async function runAll(
  entries: readonly BenchEntry[],
  jobs: number,
  runOne: (entry: BenchEntry) => Promise<boolean>,
  durations: ReadonlyMap<string, number> = new Map(),
): Promise<number> {
  let failures = 0;
  for (const entry of entries.filter((e) => e.exclusive)) {
    if (!(await runOne(entry))) failures++;
  }
  const queue = entries
    .filter((e) => !e.exclusive)
    .map((entry, index) => ({ entry, index, last: durations.get(entry.source) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => b.last - a.last || a.index - b.index)
    .map((q) => q.entry);
  const lane = async (): Promise<void> => {
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      if (!(await runOne(entry))) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, queue.length)) }, lane));
  return failures;
}
