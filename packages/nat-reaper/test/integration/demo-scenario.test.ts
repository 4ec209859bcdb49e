import { resolve } from 'node:path';
import { ensureBuilt, recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  // The scenario runs the built bundle, the artifact that deploys.
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'));
}, 120_000);

describe('demo scenario', () => {
  it('reaps the stack through the built bundle and reports ok from the emulator state', async () => {
    // Prepare
    const steps: string[] = [];
    const ctx = recordingContext(emu(), distDir, steps);
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
