import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importBundle } from '@netkit/demo';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const packageDir = resolve(import.meta.dirname, '../..');
const distDir = resolve(packageDir, 'dist');
const emu = useEmulator();

beforeAll(() => {
  if (!existsSync(resolve(distDir, 'index.mjs'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: packageDir, stdio: 'inherit' });
  }
});

describe('demo scenario', () => {
  it('runs through the built bundle: every instance gets one ENI in its AZ of the other VPC, redelivery changes nothing', async () => {
    // Prepare
    const steps: string[] = [];

    // Act
    const result = await scenario.run({
      emulator: emu(),
      distDir,
      loadBundle: (entry, env) => importBundle(distDir, entry, { ...emu().env, ...env }),
      step: (message) => steps.push(message),
      wait: (message, work) => {
        steps.push(message);
        return work;
      },
      fast: true,
    });

    // Assess
    expect(result.summary).toContain('4/4 instances');
    expect(result.ok).toBe(true);
    expect(steps.some((s) => s.startsWith('Redelivery: 0 CreateNetworkInterface calls'))).toBe(true);
  });
});
