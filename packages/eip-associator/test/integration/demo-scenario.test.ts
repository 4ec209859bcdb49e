import { resolve } from 'node:path';
import { ensureBuilt, recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import { ENI_ATTACH_DIR } from '../../demo/composed.ts';
import scenario from '../../demo/scenario.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'));
  // The scenario's composed group also runs eni-attach's bundle.
  ensureBuilt(ENI_ATTACH_DIR, ['index']);
}, 240_000);

it('runs the demo scenario through the built bundle: one EIP each, one ABANDON, terminate returns an EIP, composed group', async () => {
  // Prepare
  const steps: string[] = [];

  // Act
  const result = await scenario.run(recordingContext(emu(), distDir, steps));

  // Assess
  const checks = result.details?.['checks'] as Record<string, boolean>;
  if (!result.ok) console.error(steps.join('\n'));
  expect(Object.keys(checks).length).toBeGreaterThanOrEqual(10);
  expect({ checks, steps }).toEqual({
    checks: Object.fromEntries(Object.keys(checks).map((k) => [k, true])),
    steps,
  });
  expect(result.ok).toBe(true);
  expect(steps.length).toBeGreaterThan(5);
}, 600_000);
