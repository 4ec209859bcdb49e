import { resolve } from 'node:path';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, expect, it } from 'vitest';
import { ENI_ATTACH_DIR, runComposedGroup } from '../../demo/composed.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'));
  ensureBuilt(ENI_ATTACH_DIR, ['index']);
}, 240_000);

it('one group, eni-attach and eip-associator hooks at once, 20 launches with Describe lag after launch, attach and association: one ENI and one EIP on the primary interface each, both CONTINUE', async () => {
  // Prepare
  const steps: string[] = [];

  // Act
  const result = await runComposedGroup({
    emulator: emu(),
    distDir,
    launches: 20,
    describeLagMs: 2_000,
    attachLagMs: 1_500,
    associateLagMs: 1_500,
    step: (m) => steps.push(m),
  });

  // Assess
  expect(result.eniResults.map((r) => r.result)).toEqual(result.instances.map(() => 'CONTINUE'));
  expect(result.eipResults.map((r) => r.status)).toEqual(result.instances.map(() => 'done'));
  expect(result.checks).toEqual({
    'every instance has one target-VPC ENI at device index 1': true,
    'every instance has one pool EIP on its primary interface': true,
    'both hooks completed CONTINUE for every instance': true,
  });
}, 240_000);
