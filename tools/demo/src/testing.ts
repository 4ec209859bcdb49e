import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Emulator } from '@netkit/local-aws';
import { importBundle, type ScenarioContext } from './scenario.ts';

const AWS_CORE_SRC = resolve(import.meta.dirname, '../../../packages/aws-core/src');

function newestFile(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestFile(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Make sure `packageDir/dist/<entry>.mjs` (default: the .mjs files there, at least one) exist and are newer than the package's and
 * aws-core's sources, running the package's build.mjs otherwise; returns the dist folder.
 * Under turbo the build has already run (test depends on build), so nothing is rebuilt
 * while another package's tests import those bundles.
 */
export function ensureBuilt(packageDir: string, entries?: readonly string[]): string {
  const distDir = join(packageDir, 'dist');
  const files = entries
    ? entries.map((entry) => join(distDir, `${entry}.mjs`))
    : existsSync(distDir)
      ? readdirSync(distDir)
          .filter((f) => f.endsWith('.mjs'))
          .map((f) => join(distDir, f))
      : [];
  const built =
    files.length > 0 && files.every((f) => existsSync(f))
      ? Math.min(...files.map((f) => statSync(f).mtimeMs))
      : 0;
  if (built < Math.max(newestFile(join(packageDir, 'src')), newestFile(AWS_CORE_SRC))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: packageDir, stdio: 'pipe' });
  }
  return distDir;
}

/**
 * A ScenarioContext for a package's own demo test: bundles load from `distDir` with the
 * emulator's env, and every progress line (steps and waits) is appended to `lines`.
 */
export function recordingContext(emulator: Emulator, distDir: string, lines: string[]): ScenarioContext {
  return {
    emulator,
    distDir,
    loadBundle: (entry, env) => importBundle(distDir, entry, { ...emulator.env, ...env }),
    step: (message) => lines.push(message),
    wait: (message, work) => {
      lines.push(message);
      return work;
    },
    fast: true,
  };
}
