import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const packageDir = resolve(import.meta.dirname, '../..');
export const distDir = join(packageDir, 'dist');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Build dist/ with build.mjs when it is missing or older than src/ (tests run the bundles that deploy). */
export function ensureBuilt(): void {
  const entries = ['index.mjs', 'agent.mjs', 'pool.mjs'].map((f) => join(distDir, f));
  const built = entries.every((f) => existsSync(f))
    ? Math.min(...entries.map((f) => statSync(f).mtimeMs))
    : 0;
  if (built < newestSource(join(packageDir, 'src'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: packageDir, stdio: 'pipe' });
  }
}
