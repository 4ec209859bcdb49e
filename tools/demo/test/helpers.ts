import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..', '..');
export const DEMO_CLI = resolve(REPO, 'tools/demo/src/cli.ts');
const TSX_CLI = resolve(REPO, 'node_modules/tsx/dist/cli.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `tsx <script> ...args` as a child process, as `pnpm demo` / `pnpm bench` run it. */
export function runTsx(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, script, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Run `node build.mjs` in `packageDir`; throws with the build's output when it fails. */
export function buildPackage(packageDir: string): void {
  const result = spawnSync(process.execPath, ['build.mjs'], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `node build.mjs failed in ${packageDir} (exit ${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

export { ensureBuilt } from '../src/testing.ts';
