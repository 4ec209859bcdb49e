import { recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';
import { distDir, ensureBuilt } from '../support/dist.ts';

const emu = useEmulator();

beforeAll(() => ensureBuilt());

describe('demo scenario', () => {
  it('runs green through the built bundles against the emulator (fast settings)', async () => {
    const steps: string[] = [];
    const result = await scenario.run(recordingContext(emu(), distDir, steps));
    expect(result.details?.checks).toBeDefined();
    expect(result, result.summary).toMatchObject({ ok: true });
    expect(Object.values(result.details?.checks as Record<string, boolean>).every(Boolean)).toBe(true);
    expect(steps.length).toBeGreaterThan(5);
  });
});
