// Shared esbuild base: every Lambda package bundles through here so that the
// bundle shape (ESM .mjs, module-first main fields, minified, source maps,
// metafile) is decided once. A package's build.mjs is a couple of lines.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { sdkSchemaKeys } from './sdk-schema-keys.mjs';

/** Node runtime the bundles target; keep in step with the templates' `Runtime: nodejs22.x`. */
export const NODE_TARGET = 'node22';

/** Where lazily loaded chunks of Lambda handlers go, inside `dist/`. */
export const CHUNK_DIR = 'chunks';

/** @param {string | undefined} banner */
function baseOptions(dir, outdir, banner) {
  return {
    absWorkingDir: dir,
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
    // Error classes set `name` from the class (aws-core errors.ts); logs and FAILED reasons need the real names.
    keepNames: true,
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
  };
}

/** The name writeAtomically gives a file before its rename. */
const TEMPORARY = /\.\d+\.[0-9a-f]{8}\.tmp$/;

/** Write `contents` to `path` through a unique temporary file and a rename (atomic on POSIX). */
async function writeAtomically(path, contents) {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, contents);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Every file under `dir` (absolute paths); none when it does not exist. */
async function filesUnder(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((error) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** @param {Record<string, string>} entries @param {string} dir */
function entryPoints(entries, dir) {
  return Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, resolve(dir, src)]));
}

/**
 * The esbuild metafile of `entries` ({ outName: srcPath }) each bundled on its own with the options
 * of `bundle` but without code splitting, and nothing written: what tree shaking keeps for one entry
 * by itself. infra's grant check compares it with the split bundle that deploys, so a chunk shared by
 * two entries cannot carry one entry's AWS calls into the other (ADR 0082).
 *
 * @param {{ dir: string, entries: Record<string, string>, banner?: string }} options
 */
export async function bundleAlone({ dir, entries, banner }) {
  const result = await esbuild.build({
    ...baseOptions(dir, resolve(dir, 'dist'), banner),
    entryPoints: entryPoints(entries, dir),
    write: false,
  });
  return result.metafile;
}

/**
 * Bundle `entries` ({ outName: srcPath }) of the package in `dir` to `dir/dist/<outName>.mjs`.
 *
 * Cold start: entries that export `handler` (Lambda functions) are built with
 * code splitting, so what the SDK loads only on demand through `import()` (the
 * SSO/STS/INI credential providers and their nested clients, event streams,
 * the browser user-agent parser) lands in `dist/chunks/` and is never parsed
 * in Lambda, where credentials come from the environment. Entries without a
 * `handler` export (CLIs, the on-instance agent) stay single self-contained
 * files that can be copied alone.
 *
 * @param {{ dir: string, entries: Record<string, string>, banner?: string }} options
 */
export async function bundle({ dir, entries, banner }) {
  const outdir = resolve(dir, 'dist');
  // One pass without splitting tells which entries are Lambda handlers; its
  // output is exactly what the other (single-file) entries ship.
  const single = await esbuild.build({
    ...baseOptions(dir, outdir, banner),
    entryPoints: entryPoints(entries, dir),
    write: false,
  });
  const outputKey = (name) => relative(dir, join(outdir, `${name}.mjs`));
  const handlers = Object.keys(entries).filter((name) =>
    (single.metafile.outputs[outputKey(name)]?.exports ?? []).includes('handler'),
  );
  const singles = Object.keys(entries).filter((name) => !handlers.includes(name));

  let split;
  if (handlers.length > 0) {
    split = await esbuild.build({
      ...baseOptions(dir, outdir, banner),
      entryPoints: entryPoints(Object.fromEntries(handlers.map((name) => [name, entries[name]])), dir),
      splitting: true,
      chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
      write: false,
    });
  }

  // Write only after both builds succeeded, so a failed build leaves no half dist.
  const files = [
    ...(split?.outputFiles ?? []),
    ...single.outputFiles.filter((file) =>
      singles.some(
        (name) => file.path === join(outdir, `${name}.mjs`) || file.path === join(outdir, `${name}.mjs.map`),
      ),
    ),
  ];
  const metafile = {
    inputs: { ...single.metafile.inputs, ...(split?.metafile.inputs ?? {}) },
    outputs: {
      ...(split?.metafile.outputs ?? {}),
      ...Object.fromEntries(
        Object.entries(single.metafile.outputs).filter(([key]) =>
          singles.some((name) => key === outputKey(name) || key === `${outputKey(name)}.map`),
        ),
      ),
    },
  };
  // Each file is written under a temporary name and renamed into place, and dist/ is never
  // removed: a process importing a bundle while another build of the same package runs (a test
  // beside turbo's build, two builds at once) reads either the old or the new file, whole.
  const written = new Set([...files.map((file) => file.path), join(outdir, 'meta.json')]);
  for (const file of files) await writeAtomically(file.path, file.contents);
  await writeAtomically(join(outdir, 'meta.json'), JSON.stringify(metafile));
  // Then what an earlier build left (chunks under other hashes, renamed entries) goes; another
  // build's temporary files are its own to rename.
  for (const stale of await filesUnder(outdir)) {
    if (!written.has(stale) && !TEMPORARY.test(stale)) await rm(stale, { force: true });
  }

  const outputs = Object.keys(entries).map((name) => {
    const meta = metafile.outputs[outputKey(name)];
    const lazy =
      handlers.includes(name) && Object.keys(metafile.outputs).some((key) => key.includes(`/${CHUNK_DIR}/`))
        ? ' (+ chunks)'
        : '';
    return `${name}.mjs ${((meta?.bytes ?? 0) / 1024).toFixed(1)} KiB${lazy}`;
  });
  console.log(`${basename(dir)}: ${outputs.join(', ')}`);
  return {
    errors: [...single.errors, ...(split?.errors ?? [])],
    warnings: [...single.warnings, ...(split?.warnings ?? [])],
    metafile,
  };
}
