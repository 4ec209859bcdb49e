import { resolve } from 'node:path';
import { ensureBuilt, recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'));
}, 120_000);

it('runs the demo scenario through the built bundle: one EIP each, one ABANDON, terminate returns an EIP', async () => {
  // Prepare
  const steps: string[] = [];

  // Act
  const result = await scenario.run(recordingContext(emu(), distDir, steps));

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
