import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importBundle } from '@netkit/demo';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const dir = resolve(import.meta.dirname, '../..');
const distDir = resolve(dir, 'dist');
const emu = useEmulator();

beforeAll(async () => {
  if (!existsSync(resolve(distDir, 'index.mjs'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: dir, stdio: 'inherit' });
  }
}, 120_000);

it('runs the demo scenario through the built bundle: one EIP each, one ABANDON, terminate returns an EIP', async () => {
  // Prepare
  const steps: string[] = [];

  // Act
  const result = await scenario.run({
    emulator: emu(),
    distDir,
    loadBundle: (entry, env) => importBundle(distDir, entry, { ...emu().env, ...env }),
    step: (message) => steps.push(message),
    wait: (_message, work) => work,
    fast: true,
  });

  // Assess
  const checks = result.details?.['checks'] as Record<string, boolean>;
  expect(Object.keys(checks).length).toBeGreaterThanOrEqual(7);
  expect({ checks, steps }).toEqual({
    checks: Object.fromEntries(Object.keys(checks).map((k) => [k, true])),
    steps,
  });
  expect(result.ok).toBe(true);
  expect(steps.length).toBeGreaterThan(5);
});
