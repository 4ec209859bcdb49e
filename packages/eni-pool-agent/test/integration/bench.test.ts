import { describe, expect, it } from 'vitest';
import benchmark from '../../bench/burst.ts';

describe('burst benchmark (fast)', () => {
  it('measures the 12-launch race for the claim order and the seed, and meets its targets', async () => {
    const result = await benchmark({ fast: true });

    expect(result.name).toBe('eni-pool-agent-burst');
    const [table] = result.tables;
    expect(table?.rows).toHaveLength(2);
    expect(table?.rows.every((row) => row.length === table.columns.length)).toBe(true);
    const [ours, seed] = table!.rows;
    expect(ours?.[4]).toBe(12); // every launch got an ENI
    expect(ours?.[6]).toBe(12); // and was completed CONTINUE
    expect(Number(seed?.[4])).toBeLessThan(12); // the seed loses launches in the race
    expect(result.targets.length).toBeGreaterThanOrEqual(2);
    expect(result.targets.filter((t) => !t.met)).toEqual([]);
  }, 120_000);
});
