import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BenchEntry, discoverBenchmarks, runAll } from '../src/entries.ts';

interface Span {
  id: string;
  start: number;
  end: number;
}

/** Entries whose run takes `ms` of (fake) time; `runOne` records when each ran and with what beside it. */
function harness(specs: { id: string; ms: number; exclusive?: boolean; fails?: boolean }[]) {
  let now = 0;
  const running = new Set<string>();
  const spans: Span[] = [];
  const overlaps: Record<string, string[]> = {};
  let maxConcurrent = 0;
  const entries: BenchEntry[] = specs.map((s) => ({
    id: s.id,
    source: `packages/${s.id}.ts`,
    exclusive: s.exclusive === true,
    run: () => Promise.reject(new Error('runOne runs them')),
  }));
  const runOne = async (entry: BenchEntry): Promise<boolean> => {
    const spec = specs.find((s) => s.id === entry.id);
    if (spec === undefined) throw new Error(entry.id);
    for (const other of running) {
      (overlaps[entry.id] ??= []).push(other);
      (overlaps[other] ??= []).push(entry.id);
    }
    running.add(entry.id);
    maxConcurrent = Math.max(maxConcurrent, running.size);
    const start = now;
    // Every tick of fake time is one macrotask, so lanes interleave as real benchmarks do.
    for (let t = 0; t < spec.ms; t++) await new Promise((r) => setImmediate(r));
    now = Math.max(now, start + spec.ms);
    running.delete(entry.id);
    spans.push({ id: entry.id, start, end: start + spec.ms });
    return spec.fails !== true;
  };
  return { entries, runOne, spans, overlaps, maxConcurrent: () => maxConcurrent };
}

describe('runAll', () => {
  it('runs exclusive benchmarks alone and the rest on at most `jobs` lanes, counting failures', async () => {
    const h = harness([
      { id: 'cold-start', ms: 5, exclusive: true },
      { id: 'a', ms: 30 },
      { id: 'b', ms: 20 },
      { id: 'teardown', ms: 5, exclusive: true },
      { id: 'c', ms: 10, fails: true },
      { id: 'd', ms: 1 },
    ]);

    const failures = await runAll(h.entries, 2, h.runOne);

    expect(failures).toBe(1);
    expect(h.spans.map((s) => s.id).sort()).toEqual(['a', 'b', 'c', 'cold-start', 'd', 'teardown']);
    expect(h.overlaps['cold-start']).toBeUndefined();
    expect(h.overlaps.teardown).toBeUndefined();
    expect(h.maxConcurrent()).toBe(2);
    expect(h.overlaps.a).toEqual(expect.arrayContaining(['b']));
  });

  it('runs one benchmark at a time with jobs = 1, in discovery order without stored durations', async () => {
    const h = harness([
      { id: 'a', ms: 3 },
      { id: 'b', ms: 9 },
      { id: 'c', ms: 6 },
    ]);
    const order: string[] = [];

    await runAll(h.entries, 1, (e) => {
      order.push(e.id);
      return h.runOne(e);
    });

    expect(h.maxConcurrent()).toBe(1);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('starts the longest (by last stored duration) first, and never-measured ones before those', async () => {
    const h = harness([
      { id: 'short', ms: 2 },
      { id: 'long', ms: 2 },
      { id: 'new', ms: 2 },
      { id: 'middle', ms: 2 },
    ]);
    const order: string[] = [];
    const durations = new Map([
      ['packages/short.ts', 1_000],
      ['packages/long.ts', 300_000],
      ['packages/middle.ts', 100_000],
    ]);

    await runAll(
      h.entries,
      1,
      (e) => {
        order.push(e.id);
        return h.runOne(e);
      },
      durations,
    );

    expect(order).toEqual(['new', 'long', 'middle', 'short']);
  });
});

describe('discoverBenchmarks', () => {
  it('finds default-exported benchmarks, skips helpers, and reads `export const exclusive = true`', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bench-discover-'));
    const dir = join(root, 'packages', 'pkg', 'bench');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'counts.ts'), 'export default async () => ({});\n');
    writeFileSync(
      join(dir, 'timed.ts'),
      'export const exclusive = true;\nexport default async () => ({});\n',
    );
    writeFileSync(join(dir, 'helper.ts'), 'export const exclusive = true;\nexport const x = 1;\n');
    writeFileSync(
      join(dir, 'commented.ts'),
      '// export const exclusive = true;\nexport default async () => ({});\n',
    );

    const found = await discoverBenchmarks(root);

    expect(found.map((e) => [e.id, e.exclusive])).toEqual([
      ['pkg/commented', false],
      ['pkg/counts', false],
      ['pkg/timed', true],
    ]);
  });
});
