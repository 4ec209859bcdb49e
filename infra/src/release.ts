// `pnpm run release:pack [<package>...] [--out <dir>] [--no-build]`
//
// Writes, for each deployable package (packages/<name> with a bundle and infra/<name>/template.yaml):
//   <out>/<name>-<version>.zip            the handlers its template names, with the chunks they
//                                         import (the dist/ layout is kept: index.mjs + chunks/...);
//                                         no meta.json, no CLIs; source maps only where the template
//                                         sets NODE_OPTIONS=--enable-source-maps
//   <out>/<name>-<version>.template.yaml  the template with every CodeUri naming that zip
//   <out>/<name>-<cli>-<version>.zip      each CLI bundle (e.g. eni-pool-agent's agent and pool)
// so that `sam deploy -t <name>-<version>.template.yaml --guided` (or `aws cloudformation package`
// + `deploy`) works in a folder holding only the zip and the template. Zips are reproducible.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { isObject, type Json, loadTemplate, parseTemplate, type Template } from './cfn-yaml.ts';
import { discoverTemplates, REPO_ROOT } from './tools.ts';
import { zip } from './zip.ts';

export class ReleaseError extends Error {
  override readonly name = 'ReleaseError';
}

export const RELEASE_USAGE =
  'usage: pnpm run release:pack [<package>...] [--out <dir>] [--no-build] [--help]';

export interface FunctionCode {
  logicalId: string;
  /** Handler module (file in the bundle, e.g. index.mjs) and exported name. */
  module: string;
  exportName: string;
  sourceMaps: boolean;
}

function envOf(props: Record<string, Json> | undefined): Record<string, Json> {
  const env = props?.['Environment'];
  const vars = isObject(env) ? env['Variables'] : undefined;
  return isObject(vars) ? vars : {};
}

/** The functions a SAM template deploys from the package bundle, with their handler modules. */
export function functionsOf(template: Template): FunctionCode[] {
  const globals = isObject(template.Globals?.['Function']) ? template.Globals['Function'] : {};
  const result: FunctionCode[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Serverless::Function') continue;
    const props = resource.Properties ?? {};
    const handler = props['Handler'] ?? globals['Handler'];
    if (typeof handler !== 'string' || !/^[A-Za-z0-9_./-]+\.[A-Za-z_$][\w$]*$/.test(handler)) {
      throw new ReleaseError(`${logicalId}: Handler ${JSON.stringify(handler)} is not <file>.<export>`);
    }
    const dot = handler.lastIndexOf('.');
    const nodeOptions = String({ ...envOf(globals), ...envOf(props) }['NODE_OPTIONS'] ?? '');
    result.push({
      logicalId,
      module: `${handler.slice(0, dot)}.mjs`,
      exportName: handler.slice(dot + 1),
      sourceMaps: /(^|\s)--enable-source-maps(\s|$)/.test(nodeOptions),
    });
  }
  if (result.length === 0) throw new ReleaseError('the template has no AWS::Serverless::Function');
  return result;
}

interface Metafile {
  outputs: Record<
    string,
    { entryPoint?: string; imports?: Array<{ path: string; kind: string; external?: boolean }> }
  >;
}

function metafileOf(dist: string): Metafile {
  const metaFile = join(dist, 'meta.json');
  if (!existsSync(metaFile))
    throw new ReleaseError(`${relative(REPO_ROOT, metaFile)} does not exist (is the package built?)`);
  return JSON.parse(readFileSync(metaFile, 'utf8')) as Metafile;
}

/** The top-level entry files of the build (handlers and CLIs), from the metafile. */
export function entriesOf(dist: string): string[] {
  const prefix = `${posix.basename(dist)}/`;
  return Object.entries(metafileOf(dist).outputs)
    .filter(
      ([key, o]) =>
        o.entryPoint !== undefined && key.startsWith(prefix) && !key.slice(prefix.length).includes('/'),
    )
    .map(([key]) => key.slice(prefix.length))
    .sort();
}

/**
 * The files of `dist` that `entries` load, transitively: every chunk, eager or lazy, as esbuild's
 * metafile (dist/meta.json, written by tools/build) lists the imports of each output.
 */
export function importClosure(dist: string, entries: readonly string[]): string[] {
  const meta = metafileOf(dist);
  // Output keys are relative to the package folder (esbuild's absWorkingDir): dist/index.mjs.
  const prefix = `${posix.basename(dist)}/`;
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    const output = meta.outputs[prefix + file];
    if (output === undefined || !existsSync(join(dist, file)))
      throw new ReleaseError(
        `${relative(REPO_ROOT, join(dist, file))} is not in the build (is the package built?)`,
      );
    seen.add(file);
    for (const imported of output.imports ?? []) {
      if (imported.external === true) continue;
      if (!imported.path.startsWith(prefix))
        throw new ReleaseError(`${file} imports ${imported.path}, outside the bundle`);
      queue.push(imported.path.slice(prefix.length));
    }
  }
  return [...seen].sort();
}

function withMaps(dist: string, files: string[]): string[] {
  return files.flatMap((f) => (existsSync(join(dist, `${f}.map`)) ? [f, `${f}.map`] : [f]));
}

/**
 * The template text with each function's CodeUri (the package's dist folder) replaced by the
 * zip's file name. Text-level, so comments and short tags stay as written; every function must
 * end up naming the zip, or it throws.
 */
export function rewriteCodeUri(text: string, pkg: string, zipName: string, file = 'template.yaml'): string {
  const local = new RegExp(`^(\\s*CodeUri:\\s*)(['"]?)\\.\\./\\.\\./packages/${pkg}/dist/?\\2\\s*$`, 'gm');
  const rewritten = text.replace(local, `$1${zipName}`);
  const template = parseTemplate(rewritten, file);
  const globalUri = isObject(template.Globals?.['Function'])
    ? template.Globals['Function']['CodeUri']
    : undefined;
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Serverless::Function') continue;
    const uri = resource.Properties?.['CodeUri'] ?? globalUri;
    if (uri !== zipName) {
      throw new ReleaseError(
        `${file}: ${id} CodeUri is ${JSON.stringify(uri)}; a released template needs ../../packages/${pkg}/dist to point at ${zipName}`,
      );
    }
  }
  return rewritten;
}

export interface PackedRelease {
  pkg: string;
  version: string;
  zip: string;
  template: string;
  /** Files in the function zip. */
  files: string[];
  clis: Array<{ entry: string; zip: string; files: string[] }>;
}

export function packRelease(pkg: string, templateFile: string, outDir: string): PackedRelease {
  const packageDir = join(REPO_ROOT, 'packages', pkg);
  const dist = join(packageDir, 'dist');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version))
    throw new ReleaseError(`${pkg}: version ${version} is not semver`);
  const template = loadTemplate(templateFile);
  const functions = functionsOf(template);
  const handlerModules = [...new Set(functions.map((f) => f.module))];
  const closure = importClosure(dist, handlerModules);
  const files = functions.some((f) => f.sourceMaps) ? withMaps(dist, closure) : closure;
  const zipName = `${pkg}-${version}.zip`;
  const templateName = `${pkg}-${version}.template.yaml`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, zipName),
    zip(files.map((f) => ({ name: f, data: readFileSync(join(dist, f)) }))),
  );
  const header =
    `# @netkit/${pkg} ${version}: deploy this file with ${zipName} in the same folder, e.g.\n` +
    `#   sam deploy -t ${templateName} --guided\n` +
    '# or: aws cloudformation package --template-file ' +
    `${templateName} --s3-bucket <bucket> --output-template-file packaged.yaml\n` +
    '#     aws cloudformation deploy --template-file packaged.yaml --stack-name <stack> --capabilities CAPABILITY_IAM --parameter-overrides Key=Value ...\n';
  const text = rewriteCodeUri(
    readFileSync(templateFile, 'utf8'),
    pkg,
    zipName,
    relative(REPO_ROOT, templateFile),
  );
  writeFileSync(join(outDir, templateName), header + text);
  // Every other top-level bundle entry is a CLI: shipped on its own, never in the function zip.
  const clis = entriesOf(dist)
    .filter((f) => !handlerModules.includes(f))
    .map((entry) => {
      const name = `${pkg}-${entry.replace(/\.mjs$/, '')}-${version}.zip`;
      const cliFiles = importClosure(dist, [entry]);
      writeFileSync(
        join(outDir, name),
        zip(cliFiles.map((f) => ({ name: f, data: readFileSync(join(dist, f)) }))),
      );
      return { entry, zip: join(outDir, name), files: cliFiles };
    });
  return { pkg, version, zip: join(outDir, zipName), template: join(outDir, templateName), files, clis };
}

export function deployablePackages(): Map<string, string> {
  const { packageTemplates, lambdaPackages } = discoverTemplates();
  return new Map([...packageTemplates].filter(([pkg]) => lambdaPackages.includes(pkg)));
}

/** Builds the packages and their dependencies; returns the exit status. */
function buildPackages(packages: string[]): number {
  const args = [
    'exec',
    'turbo',
    'run',
    'build',
    '--output-logs=errors-only',
    ...packages.map((p) => `--filter=@netkit/${p}...`),
  ];
  const result = spawnSync('pnpm', args, { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.error !== undefined) throw result.error;
  return result.status ?? 1;
}

export function main(argv: readonly string[], log: (line: string) => void): number {
  const selected: string[] = [];
  let out = join(REPO_ROOT, 'release');
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      log(RELEASE_USAGE);
      log(
        'Writes release/<package>-<version>.zip, .template.yaml and one zip per CLI. See docs/releasing.md.',
      );
      return 0;
    }
    if (arg === '--no-build') build = false;
    else if (arg === '--out') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) {
        log(`release:pack: --out needs a folder\n${RELEASE_USAGE}`);
        return 2;
      }
      out = resolve(v);
    } else if (arg.startsWith('-')) {
      log(`release:pack: unknown option ${arg}\n${RELEASE_USAGE}`);
      return 2;
    } else selected.push(arg);
  }
  const templates = deployablePackages();
  const unknown = selected.filter((p) => !templates.has(p));
  if (unknown.length > 0) {
    log(
      `release:pack: unknown package ${unknown.join(', ')}. Deployable packages: ${[...templates.keys()].join(', ')}`,
    );
    return 2;
  }
  const packages = selected.length > 0 ? [...new Set(selected)] : [...templates.keys()];
  if (build) {
    const status = buildPackages(packages);
    if (status !== 0) return status;
  }
  try {
    for (const pkg of packages) {
      const packed = packRelease(pkg, templates.get(pkg) as string, out);
      log(`${relative(process.cwd(), packed.zip)} (${packed.files.length} files)`);
      log(relative(process.cwd(), packed.template));
      for (const cli of packed.clis) log(`${relative(process.cwd(), cli.zip)} (CLI ${cli.entry})`);
    }
  } catch (error) {
    if (error instanceof ReleaseError) {
      log(`release:pack: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2), (line) => console.log(line));
}
