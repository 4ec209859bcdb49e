import { describe, expect, it } from 'vitest';
import bench, { billedHoursUnder, defaults, optimum, POLICIES } from '../../bench/cost-sim.ts';

describe('cost simulator', () => {
  it('computes the exact optimum on a hand-checked trace', () => {
    const MIN = 60_000;
    // two tasks 30 min apart share one hour; a third 5 hours later needs its own hour
    expect(optimum([0, 30 * MIN, 300 * MIN], defaults)).toBe(2);
    // tasks 61 min apart: one hour each, or two hours for both
    expect(optimum([0, 61 * MIN], defaults)).toBe(2);
  });

  it('bills a lifetime under both models: from creation, and every UTC clock hour it touches', () => {
    const MIN = 60_000;
    const H = 60 * MIN;
    // 10:50 to 11:40: one hour from creation, but two clock hours
    expect(billedHoursUnder('creation', 10 * H + 50 * MIN, 11 * H + 40 * MIN)).toBe(1);
    expect(billedHoursUnder('clock-hour', 10 * H + 50 * MIN, 11 * H + 40 * MIN)).toBe(2);
    // 10:00 to 11:00 exactly: one hour under both
    expect(billedHoursUnder('clock-hour', 10 * H, 11 * H)).toBe(1);
    expect(billedHoursUnder('creation', 10 * H, 11 * H)).toBe(1);
  });

  it('meets its targets on the fast traces, reports every policy under both models and picks the default', async () => {
    const result = await bench({ fast: true });
    expect(result.tables[0]!.rows).toHaveLength(4 * (2 + POLICIES.length + 1));
    const worst = result.tables[1]!.rows.map((r) => r[1] as number);
    const marked = result.tables[1]!.rows.findIndex((r) => String(r[0]).endsWith('(default)'));
    expect(worst[marked]).toBe(Math.min(...worst));
    expect((result.data as { default: string }).default).toBe(POLICIES[marked]!.name);
    expect(result.svg).toContain('<svg');
    expect(result.targets).toHaveLength(8);
    for (const t of result.targets) expect(t, t.description).toMatchObject({ met: true });
  });
});
