import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importBundle } from '@netkit/demo';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const pkg = resolve(import.meta.dirname, '../..');
const distDir = resolve(pkg, 'dist');
const emu = useEmulator();

beforeAll(() => {
  if (!existsSync(resolve(distDir, 'acquire.mjs')) || !existsSync(resolve(distDir, 'reaper.mjs'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: pkg, stdio: 'inherit' });
  }
}, 120_000);

it('runs the endpoint-lease demo scenario through the built bundles', async () => {
  const steps: string[] = [];
  const result = await scenario.run({
    emulator: emu(),
    distDir,
    loadBundle: (entry, env) => importBundle(distDir, entry, { ...emu().env, ...env }),
    step: (m) => steps.push(m),
    wait: (m, work) => {
      steps.push(m);
      return work;
    },
    fast: true,
  });
  expect(result.summary).toBe('2 tasks, 1 stack; kept while paid, deleted at hour end');
  expect(result.ok).toBe(true);
  expect(steps.length).toBeGreaterThanOrEqual(5);
});
