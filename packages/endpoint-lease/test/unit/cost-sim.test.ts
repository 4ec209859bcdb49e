import { describe, expect, it } from 'vitest';
import bench, { defaults, optimum } from '../../bench/cost-sim.ts';

describe('cost simulator', () => {
  it('computes the exact optimum on a hand-checked trace', () => {
    const MIN = 60_000;
    // two tasks 30 min apart share one hour; a third 5 hours later needs its own hour
    expect(optimum([0, 30 * MIN, 300 * MIN], defaults)).toBe(2);
    // tasks 61 min apart: one hour each, or two hours for both
    expect(optimum([0, 61 * MIN], defaults)).toBe(2);
  });

  it('meets its targets on the fast traces and reports every policy', async () => {
    const result = await bench({ fast: true });
    expect(result.tables[0]!.rows).toHaveLength(16);
    expect(result.svg).toContain('<svg');
    expect(result.targets).toHaveLength(8);
    for (const t of result.targets) expect(t, t.description).toMatchObject({ met: true });
  });
});
