import { describe, expect, it } from 'vitest';
import { discoverScenarios, SCENARIO_ORDER } from '../src/discover.ts';
import { Progress } from '../src/progress.ts';
import { formatDuration, formatTable } from '../src/table.ts';
import { REPO } from './helpers.ts';

function recorder(isTTY: boolean) {
  const out: string[] = [];
  return { out, sink: { write: (t: string) => void out.push(t), isTTY } };
}

describe('Progress', () => {
  it('prints a start line and an end line for a wait when the output is not a terminal', async () => {
    const { out, sink } = recorder(false);
    let t = 0;
    const progress = new Progress(sink, () => t);

    const value = await progress.wait(
      'creating things',
      Promise.resolve().then(() => {
        t = 1500;
        return 42;
      }),
    );

    expect(value).toBe(42);
    expect(out.join('')).toBe('  … creating things\n  ✔ creating things (1.5 s)\n');
  });

  it('draws a spinner on a terminal and replaces it with the outcome', async () => {
    const { out, sink } = recorder(true);
    const progress = new Progress(sink);

    await expect(progress.wait('failing work', Promise.reject(new Error('nope')))).rejects.toThrow('nope');

    const clearLine = '\r\u001b[2K';
    expect(out[0]!.startsWith(`${clearLine}  ⠋ failing work (`)).toBe(true);
    expect(out.at(-1)!.startsWith(`${clearLine}  ✖ failing work (`)).toBe(true);
    expect(out.at(-1)!.endsWith(' ms)\n')).toBe(true);
    expect(out.join('')).not.toContain('…');
  });

  it('prints one line per step', () => {
    const { out, sink } = recorder(false);

    new Progress(sink).step('attaching the ENI');

    expect(out).toEqual(['  • attaching the ENI\n']);
  });
});

describe('formatTable', () => {
  it('aligns columns and right-aligns numbers', () => {
    const text = formatTable(
      ['scenario', 'calls'],
      [
        ['eip-associator', 7],
        ['nat-reaper', 123],
      ],
    );

    expect(text.split('\n')).toEqual([
      'scenario        calls',
      '--------------  -----',
      'eip-associator      7',
      'nat-reaper        123',
    ]);
  });

  it('formats durations for people', () => {
    expect([formatDuration(83.4), formatDuration(1234), formatDuration(125_000)]).toEqual([
      '83 ms',
      '1.2 s',
      '2 min 5 s',
    ]);
  });
});

describe('discoverScenarios', () => {
  it('orders the packages as the demo tells the story', () => {
    const names = discoverScenarios(REPO).map((s) => s.name);

    const known = names.filter((n) => SCENARIO_ORDER.includes(n));
    expect(known).toEqual(SCENARIO_ORDER.filter((n) => names.includes(n)));
    expect(names.slice(0, known.length)).toEqual(known);
  });
});
