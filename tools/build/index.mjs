// Shared esbuild base: every Lambda package bundles through here so that the
// bundle shape (ESM .mjs, module-first main fields, minified, source maps,
// metafile) is decided once. A package's build.mjs is a couple of lines.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { sdkSchemaKeys } from './sdk-schema-keys.mjs';

/** Node runtime the bundles target; keep in step with the templates' `Runtime: nodejs22.x`. */
export const NODE_TARGET = 'node22';

/**
 * Bundle `entries` ({ outName: srcPath }) of the package in `dir` to `dir/dist/<outName>.mjs`.
 * @param {{ dir: string, entries: Record<string, string>, banner?: string }} options
 */
export async function bundle({ dir, entries, banner }) {
  const outdir = resolve(dir, 'dist');
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: dir,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, resolve(dir, src)])),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: NODE_TARGET,
    // The AWS SDK's ESM build tree-shakes; esbuild's default for platform node
    // picks the CJS build first and roughly doubles the bundle.
    mainFields: ['module', 'main'],
    conditions: ['module', 'import'],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
    legalComments: 'none',
    plugins: [sdkSchemaKeys],
    logLevel: 'warning',
    // CJS dependencies bundled into ESM may call require() for node built-ins.
    banner: {
      js: [
        "import { createRequire as __netkitCreateRequire } from 'node:module';",
        'const require = __netkitCreateRequire(import.meta.url);',
        banner ?? '',
      ].join('\n'),
    },
  });
  await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.mjs'))
    .map(([file, meta]) => `${basename(file)} ${(meta.bytes / 1024).toFixed(1)} KiB`);
  console.log(`${basename(dir)}: ${outputs.join(', ')}`);
  return result;
}
