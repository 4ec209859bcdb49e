import { resolve } from 'node:path';
import { ensureBuilt, recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'), ['acquire', 'reaper']);
}, 120_000);

it('runs the endpoint-lease demo scenario through the built bundles', async () => {
  const steps: string[] = [];
  const result = await scenario.run(recordingContext(emu(), distDir, steps));
  expect(result.summary).toBe('2 tasks, 1 stack; kept while paid, deleted at hour end');
  expect(result.ok).toBe(true);
  expect(steps.length).toBeGreaterThanOrEqual(5);
});
