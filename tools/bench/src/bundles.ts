import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

/** Repository root (tools/bench/src -> ../../..). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** One Lambda bundle (or CLI entry) a package's build wrote to `dist/`. */
export interface BundleFile {
  /** `eip-associator/index.mjs`: the key in budgets.json and coldstart.json. */
  id: string;
  package: string;
  /** File name inside dist, e.g. `index.mjs`. */
  file: string;
  path: string;
  /** Bytes of the entry file alone. */
  entryBytes: number;
  /** Bytes loaded at import: the entry plus the chunks it imports statically. */
  bytes: number;
  /** Bytes including lazily imported chunks (what a deployment ships for this entry). */
  totalBytes: number;
}

interface MetaOutput {
  bytes: number;
  entryPoint?: string;
  imports: { path: string; kind: string; external?: boolean }[];
}

interface Metafile {
  outputs: Record<string, MetaOutput>;
}

/** Packages under `packages/` that have a `build.mjs` (the ones that ship bundles). */
export function bundledPackages(root = REPO_ROOT): string[] {
  const dir = join(root, 'packages');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'build.mjs')))
    .sort();
}

function readMeta(distDir: string): Metafile | undefined {
  const file = join(distDir, 'meta.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Metafile;
  } catch {
    return undefined;
  }
}

/** Sizes of `entry` in `meta`: its static import closure and everything reachable. */
function closureBytes(meta: Metafile, distDir: string, file: string): { bytes: number; totalBytes: number } {
  // Output keys are relative to the build's working directory (the package); match on the absolute path.
  const outputs = new Map<string, MetaOutput>();
  const byAbs = new Map<string, string>();
  for (const [key, out] of Object.entries(meta.outputs)) {
    outputs.set(key, out);
    byAbs.set(resolve(distDir, '..', key), key);
  }
  const start = byAbs.get(join(distDir, file));
  if (start === undefined) {
    const size = statSync(join(distDir, file)).size;
    return { bytes: size, totalBytes: size };
  }
  const walk = (kinds: ReadonlySet<string>): number => {
    const seen = new Set<string>();
    const stack = [start];
    let sum = 0;
    while (stack.length > 0) {
      const key = stack.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      const out = outputs.get(key);
      if (out === undefined) continue;
      sum += out.bytes;
      for (const imp of out.imports) {
        if (imp.external || !kinds.has(imp.kind)) continue;
        // Import paths in the metafile are relative to the working directory, like output keys.
        stack.push(imp.path);
      }
    }
    return sum;
  };
  return {
    bytes: walk(new Set(['import-statement'])),
    totalBytes: walk(new Set(['import-statement', 'dynamic-import'])),
  };
}

/**
 * Every `packages/<pkg>/dist/*.mjs` entry (chunks are not entries: they are
 * counted into the entry that loads them, using the build's `meta.json`).
 */
export function findBundles(root = REPO_ROOT, packages = bundledPackages(root)): BundleFile[] {
  const bundles: BundleFile[] = [];
  for (const pkg of packages) {
    const distDir = join(root, 'packages', pkg, 'dist');
    if (!existsSync(distDir)) continue;
    const meta = readMeta(distDir);
    const entryFiles = new Set<string>();
    if (meta !== undefined) {
      for (const [key, out] of Object.entries(meta.outputs)) {
        if (out.entryPoint !== undefined && key.endsWith('.mjs')) {
          const file = relative(distDir, resolve(distDir, '..', key));
          if (!file.includes('/') && existsSync(join(distDir, file))) entryFiles.add(file);
        }
      }
    }
    // No metafile, or one written for another location: every top-level .mjs is an entry.
    if (entryFiles.size === 0) {
      for (const f of readdirSync(distDir)) if (f.endsWith('.mjs')) entryFiles.add(f);
    }
    for (const file of [...entryFiles]
      .filter((f) => !f.includes('/') && existsSync(join(distDir, f)))
      .sort()) {
      const path = join(distDir, file);
      const entryBytes = statSync(path).size;
      const sizes = meta ? closureBytes(meta, distDir, file) : { bytes: entryBytes, totalBytes: entryBytes };
      bundles.push({ id: `${pkg}/${file}`, package: pkg, file: basename(file), path, entryBytes, ...sizes });
    }
  }
  return bundles;
}

/** Packages (with a build.mjs) whose `dist/` is missing or has no `.mjs` entry. */
export function missingDists(root = REPO_ROOT, packages = bundledPackages(root)): string[] {
  return packages.filter((pkg) => {
    const distDir = join(root, 'packages', pkg, 'dist');
    return !existsSync(distDir) || !readdirSync(distDir).some((f) => f.endsWith('.mjs'));
  });
}
