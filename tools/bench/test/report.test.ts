import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  machine,
  markdownTable,
  readResults,
  renderReport,
  validateResult,
  writeResult,
} from '../src/report.ts';
import { median, quantile } from '../src/stats.ts';
import { barChart, escapeXml, niceMax } from '../src/svg.ts';
import type { BenchResult } from '../src/types.ts';

const result: BenchResult = {
  name: 'sample',
  title: 'Sample | with pipe',
  tables: [
    {
      columns: ['case', 'ms'],
      rows: [
        ['a|b', 1.5],
        ['c', 20],
      ],
    },
  ],
  data: { x: 1 },
  targets: [
    { description: '<= 2 ms', met: true, measured: '1.5 ms' },
    { description: 'never', met: false, measured: 'n/a' },
  ],
  svg: barChart({ title: 'Sample', bars: [{ label: 'a', value: 1.5 }], unit: ' ms' }),
};

describe('the benchmark report', () => {
  it('writes the JSON and the chart and renders them into the Markdown report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    const stored = {
      ...result,
      measuredAt: '2026-11-22T10:00:00.000Z',
      durationMs: 1200,
      fast: false,
      machine: machine(),
      source: 'packages/x/bench/sample.ts',
    };

    writeResult(dir, stored);
    const md = renderReport(readResults(dir));

    expect(JSON.parse(readFileSync(join(dir, 'sample.json'), 'utf8'))).toMatchObject({
      name: 'sample',
      data: { x: 1 },
    });
    expect(readFileSync(join(dir, 'sample.svg'), 'utf8')).toMatch(/^<svg /);
    expect(md).toContain('Measured 2026-11-22 10:00:00 UTC in 1.2 s on ');
    expect(md).toContain(`${stored.machine.cores} cores`);
    expect(md).toContain('| a\\|b | 1.5 |');
    expect(md).toContain('| sample | never | n/a | **no** |');
    expect(md).toContain('![Sample \\| with pipe](sample.svg)');
  });

  it('renders numeric columns right-aligned', () => {
    expect(markdownTable({ columns: ['k', 'v'], rows: [['a', 1]] }).split('\n')[1]).toBe('| --- | ---: |');
  });

  it('rejects a result that is not a BenchResult and says what is wrong', () => {
    expect(() => validateResult({ name: '../x', title: 't', tables: [], targets: [] }, 'src.ts')).toThrow(
      /src\.ts: invalid benchmark result: name must be file-safe/,
    );
    expect(() =>
      validateResult({ name: 'x', title: 't', tables: [{ columns: [] }], targets: [{}] }, 's'),
    ).toThrow(/tables must be .*; targets must be/);
    expect(validateResult(result, 's')).toBe(result);
  });
});

describe('SVG bar chart', () => {
  it('draws one bar per value, a target line, and escapes labels', () => {
    const svg = barChart({
      title: 'Cold <start>',
      unit: 'x',
      target: 2,
      bars: [
        { label: 'a/index.mjs', value: 1.5 },
        { label: 'b & c', value: 2.5 },
        { label: 'broken', value: 0, note: 'error' },
      ],
    });

    expect(svg.match(/<rect x=/g)?.length).toBe(3);
    expect(svg).toContain('Cold &lt;start&gt;');
    expect(svg).toContain('b &amp; c');
    expect(svg).toContain('target 2x');
    expect(svg).toContain('fill="#c0392b"/>'); // 2.5x is over the target
    expect(svg).toContain('>error</text>');
  });

  it('picks readable axis maxima', () => {
    expect([niceMax(0.7), niceMax(2.1), niceMax(3.2), niceMax(7), niceMax(0)]).toEqual([1, 2.5, 5, 10, 1]);
    expect(escapeXml(`"'`)).toBe('&quot;&apos;');
  });
});

describe('stats', () => {
  it('takes medians and quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6);
    expect(() => median([])).toThrow('empty');
  });
});
