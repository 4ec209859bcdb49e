import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
});
