import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, runTsx } from '../../demo/test/helpers.ts';

const FIXTURE_ROOT = resolve(import.meta.dirname, 'fixtures', 'repo');
const BENCH_CLI = resolve(import.meta.dirname, '..', 'src', 'cli.ts');

describe('pnpm bench (fixture packages)', () => {
  beforeAll(() => buildPackage(join(FIXTURE_ROOT, 'packages', 'tiny')), 120_000);

  it('runs the cold-start and package benchmarks, writes JSON, SVG and the report, and exits 1 when one fails', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-out-'));

    const run = await runTsx(BENCH_CLI, ['--root', FIXTURE_ROOT, '--out', out, '--fast']);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('bench: tiny/broken failed');
    expect(run.stderr).toContain('name must be file-safe');
    expect(run.stdout).not.toContain('tiny/helper');
    expect(run.stdout).toMatch(/^tiny\/index\.mjs\s/m);
    expect(run.stdout).toMatch(/^tiny\/heavy\.mjs\s.*not met$/m);
    expect(run.stdout).toContain('✖ not met  a target this fixture misses: by design');
    expect(run.stdout).toContain('2/3 benchmarks ran');
    for (const file of [
      'cold-start.json',
      'cold-start.svg',
      'tiny-fixture.json',
      'tiny-fixture.svg',
      'README.md',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const cold = JSON.parse(readFileSync(join(out, 'cold-start.json'), 'utf8')) as {
      fast: boolean;
      machine: { cores: number; cpu: string; node: string };
      data: { bundles: { id: string; ratio: number; met: boolean }[] };
    };
    expect(cold.fast).toBe(true);
    expect(cold.machine.node).toBe(process.version);
    expect(cold.data.bundles.map((b) => [b.id, b.met])).toEqual([
      ['tiny/heavy.mjs', false],
      ['tiny/index.mjs', true],
    ]);
    const report = readFileSync(join(out, 'README.md'), 'utf8');
    expect(report).toContain('## Cold start');
    expect(report).toContain('## Fixture benchmark');
    expect(report).toContain('![Fixture benchmark](tiny-fixture.svg)');
    expect(readFileSync(join(out, 'cold-start.svg'), 'utf8')).toContain('tiny/heavy.mjs');
  }, 300_000);

  it('runs one benchmark with --only and keeps the others in the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-out-'));
    await runTsx(BENCH_CLI, ['--root', FIXTURE_ROOT, '--out', out, '--fast', '--only', 'cold-start']);

    const run = await runTsx(BENCH_CLI, [
      '--root',
      FIXTURE_ROOT,
      '--out',
      out,
      '--fast',
      '--only',
      'tiny/fixture',
    ]);

    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('Cold start');
    const report = readFileSync(join(out, 'README.md'), 'utf8');
    expect(report).toContain('## Cold start');
    expect(report).toContain('## Fixture benchmark');
  }, 300_000);

  it('rejects an unknown --only with the valid names', async () => {
    const run = await runTsx(BENCH_CLI, ['--root', FIXTURE_ROOT, '--only', 'nope']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'Unknown --only "nope". Valid names: cold-start, tiny, tiny/broken, tiny/fixture.',
    );
  });

  it('rejects a --jobs that is not a whole number >= 1 before running anything', async () => {
    for (const jobs of ['0', '1.5', 'two']) {
      const run = await runTsx(BENCH_CLI, ['--root', FIXTURE_ROOT, '--jobs', jobs]);

      expect(run.code, jobs).toBe(2);
      expect(run.stderr).toContain(`--jobs must be a whole number >= 1, got "${jobs}"`);
      expect(run.stdout).not.toContain('▶');
    }
  });
});
