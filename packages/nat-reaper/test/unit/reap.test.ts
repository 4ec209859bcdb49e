import { describe, expect, it } from 'vitest';
import { joinCapped } from '../../src/reap-data.ts';

describe('joinCapped', () => {
  it('joins a short list as is', () => {
    expect(joinCapped(['a', 'b', 'c'])).toBe('a,b,c');
    expect(joinCapped([])).toBe('');
  });

  it('stops before the budget and says how many were left out', () => {
    const values = Array.from({ length: 10 }, (_, i) => `value-${i}`);
    const text = joinCapped(values, 40);
    expect(text.length).toBeLessThanOrEqual(40);
    expect(text).toBe('value-0,value-1,value-2 (+7 more)');
  });
});
