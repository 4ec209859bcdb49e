import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFingerprint, gateProbe, probeDecision, readStamp } from '../../../scripts/turbo-probe-gate.ts';

// When scripts/test.sh runs the turbo cache-key probe (ADR 0095), on a small git work tree.
let root = '';
const write = (file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'netkit-probe-gate-'));
  execFileSync('git', ['init', '-q'], { cwd: root });
  write('.gitignore', 'node_modules/\ndist/\n.turbo/\n');
  write('turbo.json', '{"tasks":{"test":{"inputs":["src/**"]}}}\n');
  write('package.json', '{"name":"root","scripts":{"test":"turbo run test"}}\n');
  write('pnpm-workspace.yaml', 'packages: ["packages/*"]\n');
  write('packages/a/package.json', '{"name":"a","scripts":{"test":"vitest run"}}\n');
  write('packages/a/src/index.ts', 'export const a = 1;\n');
  write('node_modules/turbo/package.json', '{"version":"2.6.1"}\n');
  execFileSync('git', ['add', '.'], { cwd: root });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const NO_ENV = {};

describe('the probe runs when the turbo or package configuration changed', () => {
  it('runs on a fresh clone, records the configuration when it passes, then skips an unchanged one', () => {
    // Prepare
    let probes = 0;
    const probe = () => {
      probes++;
      return true;
    };
    // Act
    const first = gateProbe(root, NO_ENV, probe);
    const second = gateProbe(root, NO_ENV, probe);
    // Assess
    expect(first).toMatchObject({
      run: true,
      passed: true,
      reason: expect.stringMatching(/no probe has passed/),
    });
    expect(readStamp(root)).toBe(configFingerprint(root));
    expect(second).toMatchObject({ run: false, passed: true });
    expect(probes).toBe(1);
  });

  it('a failed probe records nothing, so the next run probes again', () => {
    expect(gateProbe(root, NO_ENV, () => false)).toMatchObject({ run: true, passed: false });
    expect(readStamp(root)).toBeUndefined();
    expect(gateProbe(root, NO_ENV, () => true)).toMatchObject({ run: true, passed: true });
  });

  it.each([
    ['a turbo.json edit', () => write('turbo.json', '{"tasks":{"test":{"inputs":["src/**","test/**"]}}}\n')],
    ['a package turbo.json added', () => write('packages/a/turbo.json', '{"extends":["//"]}\n')],
    ['a package.json script edit', () => write('packages/a/package.json', '{"name":"a","scripts":{}}\n')],
    ['a new package (untracked)', () => write('packages/b/package.json', '{"name":"b"}\n')],
    ['the workspace list', () => write('pnpm-workspace.yaml', 'packages: ["packages/*", "tools/*"]\n')],
    ['.gitignore', () => write('.gitignore', 'node_modules/\n')],
    ['another turbo version', () => write('node_modules/turbo/package.json', '{"version":"2.7.0"}\n')],
    ['the probe list', () => write('scripts/turbo-cache.mjs', '// one more probe\n')],
  ])('%s runs it again', (_, change) => {
    // Prepare
    gateProbe(root, NO_ENV, () => true);
    // Act
    change();
    // Assess
    expect(gateProbe(root, NO_ENV, () => true)).toMatchObject({
      run: true,
      reason: expect.stringMatching(/configuration changed/),
    });
  });

  it.each([
    ['a source edit', () => write('packages/a/src/index.ts', 'export const a = 2;\n')],
    ['a new source file', () => write('packages/a/src/b.ts', 'export const b = 1;\n')],
    ['build output and turbo logs (ignored)', () => write('packages/a/dist/package.json', '{}')],
  ])('%s does not', (_, change) => {
    // Prepare
    gateProbe(root, NO_ENV, () => true);
    // Act
    change();
    // Assess
    expect(gateProbe(root, NO_ENV, () => true)).toMatchObject({ run: false });
  });
});

describe('CI and NETKIT_TURBO_PROBE override the configuration check', () => {
  const same = 'f'.repeat(64);

  it('CI=true probes on every run, even with the configuration unchanged', () => {
    expect(probeDecision({ CI: 'true' }, same, same)).toMatchObject({
      run: true,
      reason: 'CI runs it on every run',
    });
  });

  it('NETKIT_TURBO_PROBE=1 asks for it and NETKIT_TURBO_PROBE=0 skips it, in CI too', () => {
    expect(probeDecision({ NETKIT_TURBO_PROBE: '1' }, same, same).run).toBe(true);
    expect(probeDecision({ NETKIT_TURBO_PROBE: '0', CI: 'true' }, same, undefined).run).toBe(false);
  });

  it('without them, a changed or missing record runs it and an equal one does not', () => {
    expect(probeDecision(NO_ENV, same, undefined).run).toBe(true);
    expect(probeDecision(NO_ENV, same, 'e'.repeat(64)).run).toBe(true);
    expect(probeDecision(NO_ENV, same, same).run).toBe(false);
  });
});
