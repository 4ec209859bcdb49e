import { resolve } from 'node:path';
import { ensureBuilt, recordingContext } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import scenario from '../../demo/scenario.ts';

const emu = useEmulator();
let distDir = '';

beforeAll(() => {
  distDir = ensureBuilt(resolve(import.meta.dirname, '../..'));
}, 120_000);

describe('demo scenario', () => {
  it('runs through the built bundle: every instance gets one ENI in its AZ of the other VPC, redelivery changes nothing', async () => {
    // Prepare
    const steps: string[] = [];

    // Act
    const result = await scenario.run(recordingContext(emu(), distDir, steps));

    // Assess
    expect(result.summary).toContain('4/4 instances');
    expect(result.ok).toBe(true);
    expect(steps.some((s) => s.startsWith('Redelivery: 0 CreateNetworkInterface calls'))).toBe(true);
  });
});
