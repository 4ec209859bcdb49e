import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../index.mjs';

describe('bundle', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netkit-build-'));
    await writeFile(
      join(dir, 'entry.ts'),
      [
        'class BaseError extends Error { constructor(m: string) { super(m); this.name = new.target.name; } }',
        'export class ConfigError extends BaseError {}',
        "export const handler = async () => new ConfigError('bad').name;",
      ].join('\n'),
    );
    await bundle({ dir, entries: { index: 'entry.ts' } });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes an ESM .mjs that exports handler, with a source map and a metafile', async () => {
    const mod = await import(pathToFileURL(join(dir, 'dist/index.mjs')).href);
    expect(typeof mod.handler).toBe('function');
    const meta = JSON.parse(await readFile(join(dir, 'dist/meta.json'), 'utf8'));
    expect(Object.keys(meta.outputs)).toContain('dist/index.mjs');
    await expect(readFile(join(dir, 'dist/index.mjs.map'), 'utf8')).resolves.toContain('"mappings"');
  });

  it('keeps class names through minification, so errors are named in logs and FAILED reasons', async () => {
    const mod = await import(pathToFileURL(join(dir, 'dist/index.mjs')).href);
    await expect(mod.handler()).resolves.toBe('ConfigError');
  });

  it('removes the files an earlier build left in dist/, and none it wrote', async () => {
    await mkdir(join(dir, 'dist/chunks'), { recursive: true });
    await writeFile(join(dir, 'dist/chunks/old-ABCDEFGH.mjs'), 'export {};');
    await writeFile(join(dir, 'dist/renamed.mjs'), 'export {};');
    await bundle({ dir, entries: { index: 'entry.ts' } });
    expect((await filesIn(join(dir, 'dist'))).sort()).toEqual(['index.mjs', 'index.mjs.map', 'meta.json']);
  });
});

/** The files under `dir`, relative to it (folders, which a build may leave empty, are not listed). */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Run `bundle()` for `dir` in a child Node process; rejects, with its output, when the child fails. */
function bundleInChild(dir: string): Promise<unknown> {
  const script = `import { bundle } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../index.mjs')).href)};
await bundle({ dir: ${JSON.stringify(dir)}, entries: { index: 'entry.ts' } });`;
  return promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
}

describe('bundle beside other builds and readers of the same dist', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netkit-build-race-'));
    // About 2 MiB of output, so that writing a file takes long enough to be caught half done.
    await writeFile(
      join(dir, 'entry.ts'),
      `export const blob = ${JSON.stringify('x'.repeat(2 * 1024 * 1024))};\nexport const handler = async () => blob.length;\n`,
    );
    await bundle({ dir, entries: { index: 'entry.ts' } });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lets three builds run at once, and a reader only ever sees the whole bundle', async () => {
    const whole = readFileSync(join(dir, 'dist/index.mjs'));
    const seen = { reads: 0, missing: 0, partial: 0 };
    let building = true;
    const reader = (async () => {
      while (building) {
        try {
          const now = readFileSync(join(dir, 'dist/index.mjs'));
          seen.reads += 1;
          if (!now.equals(whole)) seen.partial += 1;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          seen.missing += 1;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      for (let round = 0; round < 2; round += 1) {
        await Promise.all([bundleInChild(dir), bundleInChild(dir), bundleInChild(dir)]);
      }
    } finally {
      building = false;
      await reader;
    }
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen).toMatchObject({ missing: 0, partial: 0 });
    expect((await filesIn(join(dir, 'dist'))).sort()).toEqual(['index.mjs', 'index.mjs.map', 'meta.json']);
  }, 120_000);
});
