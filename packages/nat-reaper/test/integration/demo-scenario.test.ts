import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importBundle, type ScenarioContext } from '@netkit/demo';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const packageDir = resolve(import.meta.dirname, '../..');
const distDir = resolve(packageDir, 'dist');
const emu = useEmulator();

beforeAll(() => {
  // The scenario runs the built bundle, the artifact that deploys; build it once if missing.
  if (!existsSync(resolve(distDir, 'index.mjs'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: packageDir, stdio: 'inherit' });
  }
}, 120_000);

describe('demo scenario', () => {
  it('reaps the stack through the built bundle and reports ok from the emulator state', async () => {
    // Prepare
    const steps: string[] = [];
    const ctx: ScenarioContext = {
      emulator: emu(),
      distDir,
      loadBundle: (entry, env) => importBundle(distDir, entry, { ...emu().env, ...env }),
      step: (message) => steps.push(message),
      wait: (message, work) => {
        steps.push(message);
        return work;
      },
      fast: true,
    };
    // Act
    const result = await scenario.run(ctx);
    // Assess
    expect(scenario.name).toBe('nat-reaper');
    expect(result.details?.checks).toEqual({
      createAnsweredSuccess: true,
      natDeleted: true,
      eipReleased: true,
      igwDeleted: true,
      defaultRoutesRemoved: true,
      releasedOnceAfterDeletion: true,
      secondCreateIsNoop: true,
      deleteAnsweredWithoutCalls: true,
    });
    expect(result.ok).toBe(true);
    expect(result.summary).toMatch(/NAT, EIP, IGW and 2 routes reaped/);
    const shown = steps.find((s) => s.startsWith('Response body PUT to the ResponseURL: '));
    expect(JSON.parse(shown?.slice('Response body PUT to the ResponseURL: '.length) ?? '{}')).toMatchObject({
      Status: 'SUCCESS',
      LogicalResourceId: 'NatReaper',
      Data: {
        DeletedNatGateways: expect.stringMatching(/^nat-/),
        ReleasedEips: expect.stringMatching(/^eipalloc-/),
      },
    });
  });
});
