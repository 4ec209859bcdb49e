import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchResult, BenchTable } from './types.ts';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  os: string;
  memoryGiB: number;
  /** 1-minute load average when the benchmark started: a busy machine skews timings. */
  loadAverage: number;
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    os: `${platform()} ${release()} ${arch()}`,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** What `bench/results/<name>.json` holds. */
export interface StoredResult extends BenchResult {
  measuredAt: string;
  durationMs: number;
  fast: boolean;
  machine: Machine;
  /** Where it came from, e.g. `packages/eip-associator/bench/burst.ts`. */
  source: string;
}

const FILE_SAFE = /^[a-z0-9][a-z0-9._-]{0,80}$/;

/** Checks what a benchmark module returned; the message names what is wrong. */
export function validateResult(value: unknown, source: string): BenchResult {
  const problems: string[] = [];
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof value !== 'object' || value === null) problems.push('it did not resolve to an object');
  if (typeof v['name'] !== 'string' || !FILE_SAFE.test(v['name'])) {
    problems.push(`name must be file-safe (${FILE_SAFE}), got ${JSON.stringify(v['name'])}`);
  }
  if (typeof v['title'] !== 'string') problems.push('title must be a string');
  const tables = v['tables'];
  if (
    !Array.isArray(tables) ||
    !tables.every(
      (t: unknown) =>
        typeof t === 'object' &&
        t !== null &&
        Array.isArray((t as BenchTable).columns) &&
        Array.isArray((t as BenchTable).rows) &&
        (t as BenchTable).rows.every((r) => Array.isArray(r)),
    )
  ) {
    problems.push('tables must be an array of { columns: string[], rows: (string|number)[][] }');
  }
  const targets = v['targets'];
  if (
    !Array.isArray(targets) ||
    !targets.every(
      (t: unknown) =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as Record<string, unknown>)['description'] === 'string' &&
        typeof (t as Record<string, unknown>)['met'] === 'boolean',
    )
  ) {
    problems.push('targets must be an array of { description: string, met: boolean, measured: string }');
  }
  if (
    v['svg'] !== undefined &&
    (typeof v['svg'] !== 'string' || !String(v['svg']).trimStart().startsWith('<svg'))
  ) {
    problems.push('svg, when present, must be an SVG document string');
  }
  if (problems.length > 0) throw new Error(`${source}: invalid benchmark result: ${problems.join('; ')}`);
  return value as BenchResult;
}

/** Write `<dir>/<name>.json` (and `<name>.svg` when the result has a chart). */
export function writeResult(dir: string, stored: StoredResult): void {
  mkdirSync(dir, { recursive: true });
  const { svg, ...json } = stored;
  writeFileSync(join(dir, `${stored.name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  if (svg !== undefined) writeFileSync(join(dir, `${stored.name}.svg`), svg);
}

/** Every stored result in `dir` (the README covers the latest run of each benchmark). */
export function readResults(dir: string): (StoredResult & { hasSvg: boolean })[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      try {
        const stored = JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredResult;
        if (typeof stored.name !== 'string' || !Array.isArray(stored.tables)) return [];
        return [{ ...stored, hasSvg: existsSync(join(dir, `${stored.name}.svg`)) }];
      } catch {
        return [];
      }
    });
}

function cell(value: string | number): string {
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(table: BenchTable): string {
  const numeric = table.columns.map(
    (_, i) => table.rows.length > 0 && table.rows.every((r) => typeof r[i] === 'number'),
  );
  return [
    `| ${table.columns.map(cell).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...table.rows.map((r) => `| ${table.columns.map((_, i) => cell(r[i] ?? '')).join(' | ')} |`),
  ].join('\n');
}

function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, node ${m.node}, load average ${m.loadAverage} at start`;
}

/** The Markdown report `bench/results/README.md`. */
export function renderReport(results: (StoredResult & { hasSvg: boolean })[]): string {
  const lines: string[] = ['# Benchmark results', ''];
  lines.push(
    'Written by `pnpm bench` (tools/bench). Each section is the latest run of that benchmark, with the date and',
    'machine it was measured on; the JSON next to this file holds the raw data. Timings on a shared or busy',
    'machine vary: compare ratios measured in the same run, not absolute times across runs.',
    '',
  );
  if (results.length === 0) {
    lines.push('No results yet: run `pnpm bench`.', '');
    return lines.join('\n');
  }
  lines.push('## Targets', '', '| benchmark | target | measured | met |', '| --- | --- | --- | --- |');
  for (const r of results) {
    for (const t of r.targets) {
      lines.push(
        `| ${cell(r.name)} | ${cell(t.description)} | ${cell(t.measured ?? '')} | ${t.met ? 'yes' : '**no**'} |`,
      );
    }
  }
  lines.push('');
  for (const r of results) {
    lines.push(`## ${r.title}`, '');
    lines.push(
      `Measured ${r.measuredAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}${r.fast ? ' (fast mode)' : ''} in ${(
        r.durationMs / 1000
      ).toFixed(1)} s on ${machineLine(r.machine)}. Source: \`${r.source}\`.`,
      '',
    );
    for (const table of r.tables) lines.push(markdownTable(table), '');
    if (r.hasSvg) lines.push(`![${cell(r.title)}](${r.name}.svg)`, '');
  }
  return lines.join('\n');
}
