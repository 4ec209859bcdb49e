// release:pack as a user receives it: every release zip is unpacked into an empty folder with an
// independent unzipper (Python's zipfile), and each handler its template names is imported from
// there. Every relative import of every file (eager or lazy chunk) must resolve inside the zip.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isObject, parseTemplate, type Template } from '../src/cfn-yaml.ts';
import {
  deployablePackages,
  entriesOf,
  functionsOf,
  importClosure,
  main as releaseMain,
  rewriteCodeUri,
} from '../src/release.ts';
import { REPO_ROOT } from '../src/tools.ts';
import { inCheckout } from './support/shared-checkout.ts';

// Relative module specifiers a bundle file imports (static, side-effect and dynamic imports): an
// independent check of the file list release:pack takes from esbuild's metafile.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
function relativeImports(source: string): string[] {
  return [...new Set([...source.matchAll(SPECIFIER)].map((m) => m[1] as string))];
}

const out = mkdtempSync(join(tmpdir(), 'netkit-release-'));
const packages = [...deployablePackages().keys()];

function unzip(zipFile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'netkit-unzipped-'));
  const python = process.env['PYTHON'] ?? 'python3';
  const r = spawnSync(python, ['-m', 'zipfile', '-e', zipFile, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unzip ${zipFile}: ${r.stderr}`);
  return dir;
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, posix.join(prefix, e.name)) : [posix.join(prefix, e.name)],
  );
}

/** Environment variables of a function that are plain strings in the template (config read at import). */
function lambdaEnv(template: Template, logicalId: string): Record<string, string> {
  const env = template.Resources[logicalId]?.Properties?.['Environment'];
  const vars = isObject(env) && isObject(env['Variables']) ? env['Variables'] : {};
  return Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/**
 * Valid example values for what each template's Environment sets from parameters and resources
 * (the handlers validate their configuration when imported, as in Lambda's init phase).
 */
const RUNTIME_ENV: Record<string, string> = {
  SUBNET_MAP: '{"us-east-1a":"subnet-0123456789abcdef0"}',
  SECURITY_GROUP_IDS: 'sg-0123456789abcdef0',
  AUTO_SCALING_GROUP_NAME: 'web-asg',
  ENI_POOL_TAGS: '{"netkit:eni-pool":"app"}',
  EIP_POOL_TAGS: '{"netkit:eip-pool":"prod ForwardProxy"}',
  ENDPOINT_STACK_NAME: 'netkit-fargate-endpoints',
  VPC_ID: 'vpc-0123456789abcdef0',
  SUBNET_IDS: 'subnet-0123456789abcdef0',
  ROUTE_TABLE_IDS: 'rtb-0123456789abcdef0',
  TASK_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0',
  CLUSTER_ARN: 'arn:aws:ecs:us-east-1:123456789012:cluster/netkit',
  TASK_DEFINITION_ARN: 'arn:aws:ecs:us-east-1:123456789012:task-definition/netkit:1',
};

/** Every file of the dist/ folder of each package of this repository, with its inode, size and mtime. */
function repositoryDists(): Record<string, string> {
  const packagesDir = join(REPO_ROOT, 'packages');
  const state: Record<string, string> = {};
  for (const pkg of readdirSync(packagesDir)) {
    const dist = join(packagesDir, pkg, 'dist');
    if (!existsSync(dist)) continue;
    for (const file of filesUnder(dist)) {
      const s = statSync(join(dist, file));
      state[`${pkg}/dist/${file}`] = `${s.ino} ${s.size} ${s.mtimeMs}`;
    }
  }
  return state;
}

let checkoutDir = '';
let distsBefore: Record<string, string> = {};
beforeAll(() => {
  distsBefore = repositoryDists();
  // The real command, as a user runs it: `pnpm run release:pack` builds through turbo, then packs.
  // It runs in the run's shared scratch checkout (test/support/shared-checkout.ts), because its
  // build writes the packages' dist/ folders, which other test processes import beside this one in
  // the repository itself.
  const r = inCheckout((dir) => {
    checkoutDir = dir;
    return spawnSync('pnpm', ['run', 'release:pack', '--out', out], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 540_000,
    });
  });
  expect(r.status, `${r.error ?? ''}${r.stdout}${r.stderr}`).toBe(0);
}, 900_000);

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

describe.each(packages)('release of %s', (pkg) => {
  const version = (): string =>
    (JSON.parse(readFileSync(join('..', 'packages', pkg, 'package.json'), 'utf8')) as { version: string })
      .version;

  it('unzips into an empty folder and every handler the template names imports, with the export it names', async () => {
    const template = parseTemplate(readFileSync(join(out, `${pkg}-${version()}.template.yaml`), 'utf8'));
    const dir = unzip(join(out, `${pkg}-${version()}.zip`));
    try {
      expect(existsSync(join(dir, 'chunks')), 'chunks/ kept').toBe(true);
      // Imported by a plain Node process in that folder, as the Lambda runtime loads a handler.
      for (const fn of functionsOf(template)) {
        const script =
          `const m = await import(${JSON.stringify(pathToFileURL(join(dir, fn.module)).href)});` +
          `process.stdout.write(typeof m[${JSON.stringify(fn.exportName)}]);`;
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          cwd: dir,
          encoding: 'utf8',
          env: {
            PATH: process.env['PATH'] ?? '',
            AWS_REGION: 'us-east-1',
            ...RUNTIME_ENV,
            ...lambdaEnv(template, fn.logicalId),
          },
          timeout: 60_000,
        });
        expect(r.stderr, `${fn.logicalId}: ${fn.module}`).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
        expect(r.stdout, `${fn.logicalId}: ${fn.module} exports ${fn.exportName} (${r.stderr})`).toBe(
          'function',
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds every module its files import (lazy chunks too), and no metafile, CLI or source map', () => {
    const template = parseTemplate(readFileSync(join(out, `${pkg}-${version()}.template.yaml`), 'utf8'));
    const dir = unzip(join(out, `${pkg}-${version()}.zip`));
    try {
      const files = filesUnder(dir);
      for (const file of files.filter((f) => f.endsWith('.mjs'))) {
        for (const spec of relativeImports(readFileSync(join(dir, file), 'utf8'))) {
          const target = posix.normalize(posix.join(posix.dirname(file), spec));
          expect(files, `${file} imports ${spec}`).toContain(target);
        }
      }
      const handlers = functionsOf(template).map((f) => f.module);
      const topLevel = files.filter((f) => !f.includes('/'));
      expect(topLevel.sort()).toEqual([...new Set(handlers)].sort());
      expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.json'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a template whose every CodeUri names the zip next to it', () => {
    const text = readFileSync(join(out, `${pkg}-${version()}.template.yaml`), 'utf8');
    const template = parseTemplate(text);
    const globals = isObject(template.Globals?.['Function']) ? template.Globals['Function'] : {};
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type === 'AWS::Serverless::Function')
        expect(r.Properties?.['CodeUri'] ?? globals['CodeUri'], id).toBe(`${pkg}-${version()}.zip`);
    }
    expect(text).not.toMatch(/packages\//);
  });
});

describe('release:pack', () => {
  it('built in the scratch checkout, leaving the dist/ folders of this repository as they were', () => {
    expect(existsSync(join(checkoutDir, 'packages', 'nat-reaper', 'dist', 'index.mjs'))).toBe(true);
    expect(repositoryDists()).toEqual(distsBefore);
  });

  it('ships each CLI as its own zip that runs from an empty folder', () => {
    const cliZips = [
      ['eni-attach', 'sweep-cli'],
      ['eni-pool-agent', 'agent'],
      ['eni-pool-agent', 'pool'],
    ].map(
      ([pkg, cli]) =>
        `${pkg}-${cli}-${(JSON.parse(readFileSync(join('..', 'packages', pkg as string, 'package.json'), 'utf8')) as { version: string }).version}.zip`,
    );
    const functionZips = packages.map((p) => `${p}-`);
    expect(
      readdirSync(out)
        .filter((f) => f.endsWith('.zip'))
        .filter((f) => !functionZips.some((prefix) => new RegExp(`^${prefix}\\d`).test(f)))
        .sort(),
    ).toEqual(cliZips.sort());
    for (const zipName of cliZips) {
      const dir = unzip(join(out, zipName));
      try {
        const entry = filesUnder(dir).filter((f) => !f.includes('/'));
        expect(entry, zipName).toHaveLength(1);
        // --help prints the usage and calls no AWS API: every endpoint is a closed port, so a call
        // would fail the run. An unknown argument is a usage error (exit 2), also without a call.
        const env = {
          PATH: process.env['PATH'] ?? '',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9',
          AWS_MAX_ATTEMPTS: '1',
        };
        const cli = join(dir, entry[0] as string);
        const help = spawnSync(process.execPath, [cli, '--help'], {
          cwd: dir,
          encoding: 'utf8',
          env,
          timeout: 60_000,
        });
        expect(help.stderr, zipName).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
        expect(help.status, `${zipName} --help: ${help.stdout}${help.stderr}`).toBe(0);
        expect(help.stdout, zipName).toMatch(/usage/i);
        const bad = spawnSync(process.execPath, [cli, '--no-such-option'], {
          cwd: dir,
          encoding: 'utf8',
          env,
          timeout: 60_000,
        });
        expect(bad.status, `${zipName} --no-such-option: ${bad.stdout}${bad.stderr}`).toBe(2);
        expect(`${bad.stdout}${bad.stderr}`, zipName).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('writes the same bytes twice (reproducible zips)', () => {
    const again = mkdtempSync(join(tmpdir(), 'netkit-release-again-'));
    try {
      const r = inCheckout((dir) =>
        spawnSync('pnpm', ['run', 'release:pack', 'eip-associator', '--no-build', '--out', again], {
          cwd: dir,
          encoding: 'utf8',
          timeout: 120_000,
        }),
      );
      expect(r.status, `${r.error ?? ''}${r.stdout}${r.stderr}`).toBe(0);
      const name = readdirSync(again).find((f) => f.endsWith('.zip')) as string;
      expect(readFileSync(join(again, name)).equals(readFileSync(join(out, name)))).toBe(true);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('refuses a template whose CodeUri is not the package bundle', () => {
    const text =
      'Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ./elsewhere\n      Handler: index.handler\n';
    expect(() => rewriteCodeUri(text, 'nat-reaper', 'nat-reaper-1.0.0.zip')).toThrow(
      /F CodeUri is "\.\/elsewhere"; a released template needs \.\.\/\.\.\/packages\/nat-reaper\/dist/,
    );
  });

  it('takes each bundle file list from the metafile (dist/meta.json), not from the text of the files', () => {
    const pkgDir = mkdtempSync(join(tmpdir(), 'netkit-meta-'));
    const dist = join(pkgDir, 'dist');
    try {
      mkdirSync(join(dist, 'chunks'), { recursive: true });
      // The text mentions a module that is not imported (a comment, a string): only the metafile knows.
      writeFileSync(
        join(dist, 'index.mjs'),
        '// see import("./not-a-chunk.mjs")\nexport const handler = 1;\n',
      );
      writeFileSync(join(dist, 'chunks', 'a.mjs'), 'export const a = 1;\n');
      writeFileSync(join(dist, 'chunks', 'b.mjs'), 'export const b = "from \'./c.mjs\'";\n');
      writeFileSync(join(dist, 'cli.mjs'), '');
      writeFileSync(
        join(dist, 'meta.json'),
        JSON.stringify({
          inputs: {},
          outputs: {
            'dist/index.mjs': {
              entryPoint: 'src/handler.ts',
              imports: [
                { path: 'dist/chunks/a.mjs', kind: 'import-statement' },
                { path: 'dist/chunks/b.mjs', kind: 'dynamic-import' },
                { path: 'node:fs', kind: 'import-statement', external: true },
              ],
            },
            'dist/chunks/a.mjs': { imports: [] },
            'dist/chunks/b.mjs': { imports: [] },
            'dist/cli.mjs': { entryPoint: 'src/cli.ts', imports: [] },
          },
        }),
      );
      expect(importClosure(dist, ['index.mjs'])).toEqual(['chunks/a.mjs', 'chunks/b.mjs', 'index.mjs']);
      expect(entriesOf(dist)).toEqual(['cli.mjs', 'index.mjs']);
      expect(() => importClosure(dist, ['missing.mjs'])).toThrow(/is not in the build/);
    } finally {
      rmSync(pkgDir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown package', () => {
    const lines: string[] = [];
    expect(releaseMain(['nope', '--no-build'], (l) => lines.push(l))).toBe(2);
    expect(lines[0]).toMatch(/unknown package nope\. Deployable packages: /);
  });
});
