import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Repository root (tools/demo/src -> ../../..). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The order the demo tells its story in; packages not listed here follow alphabetically. */
export const SCENARIO_ORDER = [
  'eip-associator',
  'eni-attach',
  'eni-pool-agent',
  'nat-reaper',
  'endpoint-lease',
];

export interface ScenarioEntry {
  /** Package folder name: what `--only` takes. */
  name: string;
  packageDir: string;
  distDir: string;
  /** packages/<name>/demo/scenario.ts */
  file: string;
}

/** Every `packages/<name>/demo/scenario.ts` under `root`, in SCENARIO_ORDER. */
export function discoverScenarios(root = REPO_ROOT): ScenarioEntry[] {
  const packagesDir = join(root, 'packages');
  if (!existsSync(packagesDir)) return [];
  const found = readdirSync(packagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(packagesDir, d.name, 'demo', 'scenario.ts')))
    .map((d) => {
      const packageDir = join(packagesDir, d.name);
      return {
        name: d.name,
        packageDir,
        distDir: join(packageDir, 'dist'),
        file: join(packageDir, 'demo', 'scenario.ts'),
      };
    });
  const rank = (name: string): number => {
    const i = SCENARIO_ORDER.indexOf(name);
    return i === -1 ? SCENARIO_ORDER.length : i;
  };
  return found.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** True when `distDir` holds at least one bundle (`*.mjs`). */
export function hasDist(distDir: string): boolean {
  return existsSync(distDir) && readdirSync(distDir).some((f) => f.endsWith('.mjs'));
}
