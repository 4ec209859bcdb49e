import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  baselineKey,
  checkConventions,
  compareWithBaseline,
  formatViolations,
  type Violation,
} from '../src/check.ts';

type Tree = Record<string, string>;

/** A tree that follows every rule: aws-core, one behaviour package with an index and a second Lambda entry. */
function cleanTree(): Tree {
  return {
    'packages/aws-core/src/errors.ts': [
      'export class NetkitError extends Error {',
      '  constructor(message: string) {',
      '    super(message);',
      '    this.name = new.target.name;',
      '  }',
      '}',
    ].join('\n'),
    'packages/aws-core/package.json': JSON.stringify({
      name: '@netkit/aws-core',
      exports: { './errors': './src/errors.ts', './retry': './src/retry.ts' },
    }),
    'packages/aws-core/src/retry.ts': 'export function retry() {}\nexport function backoffDelay() {}\n',
    'packages/aws-core/test/unit/retry.test.ts':
      "import { backoffDelay, retry } from '../../src/retry.ts';\n",
    'packages/aws-core/src/lifecycle.ts':
      "import { RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';\n",
    'packages/widget/build.mjs': [
      "import { bundle } from '@netkit/build';",
      '',
      'await bundle({',
      '  dir: import.meta.dirname,',
      "  entries: { index: 'src/handler.ts', sweeper: 'src/sweeper-handler.ts', 'sweep-cli': 'src/sweep-cli.ts' },",
      '});',
    ].join('\n'),
    'packages/widget/src/handler.ts':
      "import { createHandler } from './create-handler.ts';\nexport const handler = createHandler();\n",
    'packages/widget/src/create-handler.ts':
      'export interface HandlerDeps {\n  clock: Clock;\n}\nexport function createHandler() {}\n',
    'packages/widget/src/sweeper-handler.ts':
      "import { createSweeperHandler } from './create-sweeper-handler.ts';\nexport const handler = createSweeperHandler();\n",
    'packages/widget/src/create-sweeper-handler.ts':
      'export type SweeperHandlerDeps = HandlerDeps;\nexport function createSweeperHandler() {}\n',
    'packages/widget/src/sweep-cli.ts': 'console.log(1);\n',
    'packages/widget/src/config.ts': 'export interface Config {}\nexport function loadConfig() {}\n',
    'packages/widget/src/errors.ts': [
      "import { NetkitError } from '@netkit/aws-core/errors';",
      'export class WidgetError extends NetkitError {}',
    ].join('\n'),
    'packages/widget/src/spin.ts': [
      "import { pollUntil, retryTransient } from '@netkit/aws-core/retry';",
      `export function spin() {\n${'  pollUntil;\n'.repeat(58)}}`,
    ].join('\n'),
    'packages/widget/test/unit/spin.test.ts': [
      "import { type Config, loadConfig } from '../../src/config.ts';",
      "import { WidgetError } from '../../src/errors.ts';",
      "import { spin } from '../../src/spin.ts';",
    ].join('\n'),
    'packages/widget/test/integration/spin.test.ts': '',
    'packages/widget/test/support/fake-ec2.ts': '',
    'infra/src/deploy.ts': 'export const deploy = () => {};\n',
    'tools/demo/src/cli.ts': 'export class Cli { run() {} }\n',
  };
}

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function writeTree(tree: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'conventions-'));
  roots.push(root);
  for (const [path, text] of Object.entries(tree)) {
    if (text === null) continue;
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** The violations of the clean tree after `change` (files to set; `null` removes one). */
function check(change: Record<string, string | null>): Violation[] {
  const tree: Tree = cleanTree();
  for (const [path, text] of Object.entries(change)) {
    if (text === null) delete tree[path];
    else tree[path] = text;
  }
  return checkConventions(writeTree(tree));
}

/** The violations of one rule (a fixture change that adds an export also adds an unused-export violation). */
const only = (rule: Violation['rule'], vs: Violation[]) => vs.filter((v) => v.rule === rule);

const brief = (vs: Violation[]) => vs.map((v) => ({ rule: v.rule, file: v.file, line: v.line }));

describe('the house-style check over a fixture tree', () => {
  it('passes a tree that follows every rule', () => {
    // Arrange + Act
    const violations = checkConventions(writeTree(cleanTree()));

    // Assert
    expect(violations).toEqual([]);
    expect(formatViolations(violations)).toBe('house style: no violations');
  });

  it('reports a handler factory that is missing, at the entry line of build.mjs', () => {
    const violations = check({ 'packages/widget/src/create-sweeper-handler.ts': null });

    expect(brief(violations)).toEqual([{ rule: 'layout', file: 'packages/widget/build.mjs', line: 5 }]);
    expect(violations[0]!.message).toContain('src/create-sweeper-handler.ts');
  });

  it('reports an entry file named neither <entry>-handler.ts nor <entry>-cli.ts', () => {
    const violations = only(
      'layout',
      check({
        'packages/widget/build.mjs':
          "await bundle({\n  entries: { index: 'src/handler.ts', agent: 'src/agent.ts' },\n});",
      }),
    );

    expect(brief(violations)).toEqual([{ rule: 'layout', file: 'packages/widget/build.mjs', line: 2 }]);
    expect(violations[0]!.message).toBe(
      "entry 'agent' is src/agent.ts; expected src/agent-handler.ts or src/agent-cli.ts",
    );
  });

  it('reports an index entry that is not src/handler.ts', () => {
    const violations = check({
      'packages/widget/build.mjs': "await bundle({ entries: { index: 'src/app.ts' } });",
    });

    expect(violations.map((v) => v.message)).toContain(
      "entry 'index' is src/app.ts; expected src/handler.ts",
    );
  });

  it('reports a package without src/errors.ts or a config loader', () => {
    const violations = only(
      'layout',
      check({
        'packages/widget/src/errors.ts': null,
        'packages/widget/src/config.ts': 'export function parseLambdaConfig() {}\n',
      }),
    );

    expect(brief(violations)).toEqual([
      { rule: 'layout', file: 'packages/widget/src/config.ts', line: 1 },
      { rule: 'layout', file: 'packages/widget/src/errors.ts', line: 1 },
    ]);
    expect(violations[0]!.message).toBe('does not export loadConfig');
  });

  it('reports every export of an entry file but handler, each at its line', () => {
    const violations = only(
      'entry-exports',
      check({
        'packages/widget/src/handler.ts':
          'export const handler = () => 1;\nexport interface HandlerResult {}\nexport { x as createHandler };\n',
      }),
    );

    expect(brief(violations)).toEqual([
      { rule: 'entry-exports', file: 'packages/widget/src/handler.ts', line: 2 },
      { rule: 'entry-exports', file: 'packages/widget/src/handler.ts', line: 3 },
    ]);
    expect(violations.map((v) => v.message.split(';')[0])).toEqual([
      "entry file exports 'HandlerResult'",
      "entry file exports 'createHandler'",
    ]);
  });

  it('reports a factory without its deps interface, or with an optional or missing clock', () => {
    const violations = only(
      'handler-deps',
      check({
        'packages/widget/src/create-handler.ts':
          'export interface HandlerDeps {\n  ec2: EC2Client;\n  clock?: Clock;\n}\n',
        'packages/widget/src/create-sweeper-handler.ts': 'export interface Deps {}\n',
      }),
    );

    expect(brief(violations)).toEqual([
      { rule: 'handler-deps', file: 'packages/widget/src/create-handler.ts', line: 3 },
      { rule: 'handler-deps', file: 'packages/widget/src/create-sweeper-handler.ts', line: 1 },
    ]);
    expect(violations.map((v) => v.message.split(';')[0])).toEqual([
      'HandlerDeps.clock is optional',
      'does not export its deps interface SweeperHandlerDeps',
    ]);
  });

  it('reports a function over 60 lines at its first line, and not one of exactly 60', () => {
    const long = (kind: string) => `${kind} {\n${'  step();\n'.repeat(59)}}`;
    const violations = check({
      'infra/src/deploy.ts': `// a comment\n${long('export function resolve()')}\n${long('const ok = () =>').replace('  step();\n', '')}`,
    });

    expect(brief(violations)).toEqual([{ rule: 'function-length', file: 'infra/src/deploy.ts', line: 2 }]);
    expect(violations[0]!.message).toBe('resolve is 61 lines (at most 60); split it along its own steps');
  });

  it('measures methods and arrow functions in tools/*/src and packages/*/src by name', () => {
    const body = '  step();\n'.repeat(65);
    const violations = check({
      'tools/demo/src/cli.ts': `export class Cli {\n  run() {\n${body}  }\n}\n`,
      'packages/widget/src/spin.ts': `export const spin = async () => {\n${body}};\n`,
    });

    expect(violations.map((v) => `${v.file}:${v.line} ${v.message.split(' (')[0]}`)).toEqual([
      'packages/widget/src/spin.ts:1 spin is 67 lines',
      'tools/demo/src/cli.ts:2 run is 67 lines',
    ]);
  });

  it("reports aws-core's retry and backoffDelay and the raw heartbeat command imported outside aws-core", () => {
    const violations = check({
      'packages/widget/src/spin.ts': [
        "import { Deadline, pollUntil } from '@netkit/aws-core/retry';",
        "import { backoffDelay, retry as again } from '@netkit/aws-core/retry';",
        "import { RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';",
      ].join('\n'),
      'infra/src/deploy.ts': "import { retry } from '@netkit/aws-core';\n",
    });

    expect(brief(violations)).toEqual([
      { rule: 'aws-core-helpers', file: 'infra/src/deploy.ts', line: 1 },
      { rule: 'aws-core-helpers', file: 'packages/widget/src/spin.ts', line: 2 },
      { rule: 'aws-core-helpers', file: 'packages/widget/src/spin.ts', line: 2 },
      { rule: 'aws-core-helpers', file: 'packages/widget/src/spin.ts', line: 3 },
    ]);
    expect(violations[3]!.message).toContain('startHeartbeat');
  });

  it('reports an error class outside src/errors.ts, in any package including aws-core', () => {
    const violations = only(
      'error-classes',
      check({
        'packages/widget/src/spin.ts':
          '\nexport class SpinFailed extends NetkitError {}\nclass Other extends Error {}\n',
        'packages/aws-core/src/config.ts': 'export class Invalid extends Error {}\n',
      }),
    );

    expect(brief(violations)).toEqual([
      { rule: 'error-classes', file: 'packages/aws-core/src/config.ts', line: 1 },
      { rule: 'error-classes', file: 'packages/widget/src/spin.ts', line: 2 },
      { rule: 'error-classes', file: 'packages/widget/src/spin.ts', line: 3 },
    ]);
    expect(violations[1]!.message).toBe('error class SpinFailed is outside src/errors.ts');
  });

  it("reports an error class that sets 'name', as a property or in its constructor", () => {
    const violations = only(
      'error-classes',
      check({
        'packages/widget/src/errors.ts': [
          'export class AError extends NetkitError {',
          "  override name = 'AError';",
          '}',
          'export class BError extends NetkitError {',
          '  constructor() {',
          '    super();',
          "    this.name = 'BError';",
          '  }',
          '}',
        ].join('\n'),
      }),
    );

    expect(brief(violations)).toEqual([
      { rule: 'error-classes', file: 'packages/widget/src/errors.ts', line: 2 },
      { rule: 'error-classes', file: 'packages/widget/src/errors.ts', line: 7 },
    ]);
  });

  it('reports a file in test/unit or test/integration that is not a *.test.ts file', () => {
    const violations = check({
      'packages/widget/test/unit/fake-ec2.ts': '',
      'packages/widget/test/integration/harness/world.ts': '',
    });

    expect(brief(violations)).toEqual([
      { rule: 'test-folders', file: 'packages/widget/test/integration/harness/world.ts', line: 1 },
      { rule: 'test-folders', file: 'packages/widget/test/unit/fake-ec2.ts', line: 1 },
    ]);
  });

  it('reports a packages/*/src file over 400 lines at its first line, and not one of exactly 400', () => {
    const violations = check({
      'packages/widget/src/spin.ts': `export function spin() {}\n${'// why\n'.repeat(400)}`,
      'packages/aws-core/src/retry.ts': `export function retry() {}\nexport function backoffDelay() {}\n${'//\n'.repeat(398)}`,
      'infra/src/deploy.ts': '//\n'.repeat(500),
    });

    expect(brief(violations)).toEqual([
      { rule: 'file-length', file: 'packages/widget/src/spin.ts', line: 1 },
    ]);
    expect(violations[0]!.message).toBe('401 lines (at most 400); split it along its verbs, one per file');
  });

  it('reports Lambda code (every line of packages/*/src) over 7,500 lines once, naming the total', () => {
    // Prepare: fill the clean tree's Lambda code up to exactly the budget, then one line more
    const clean = Object.entries(cleanTree())
      .filter(([path]) => /^packages\/[^/]+\/src\/.*\.ts$/.test(path))
      .reduce((sum, [, text]) => sum + text.split('\n').length - 1, 0);
    const filler = (n: number) => ({ 'packages/widget/src/filler.ts': '//\n'.repeat(n) });

    // Act
    const atBudget = only('lambda-budget', check(filler(7500 - clean)));
    const over = only('lambda-budget', check(filler(7501 - clean)));

    // Assess
    expect(atBudget).toEqual([]);
    expect(brief(over)).toEqual([{ rule: 'lambda-budget', file: 'packages', line: 1 }]);
    expect(over[0]!.message).toMatch(
      /^Lambda code is 7501 lines \(at most 7500\): aws-core \d+, widget \d+$/,
    );
  });

  it("reports a hook factory over 40 lines or doing the runner's liveness, heartbeat, completion or metrics", () => {
    const violations = only(
      'hook-handler',
      check({
        'packages/widget/src/create-handler.ts': [
          "import { createLifecycleHandler } from '@netkit/aws-core/lifecycle-hook';",
          "import { confirmLifecycleActionLive as live, startHeartbeat } from '@netkit/aws-core/lifecycle';",
          'export interface HandlerDeps {',
          '  clock: Clock;',
          '}',
          'export function createHandler(deps: HandlerDeps) {',
          '  deps.metrics.addMetric("X", 1);',
          ...Array.from({ length: 33 }, () => '  // declaration'),
          '}',
          '',
        ].join('\n'),
        'packages/eni-pool-agent/src/create-handler.ts':
          'export function createHandler(deps) {\n  return () => deps.metrics.publishStoredMetrics();\n}\n',
        'packages/nat-reaper/src/create-handler.ts':
          'export function createHandler(deps) {\n  deps.metrics.addMetric("Y", 1);\n}\n',
      }),
    );

    expect(violations.map((v) => `${v.file}:${v.line} ${v.message.split(':')[0]}`)).toEqual([
      'packages/eni-pool-agent/src/create-handler.ts:2 calls publishStoredMetrics',
      'packages/widget/src/create-handler.ts:1 41 lines (at most 40); a hook factory only declares its hook for createLifecycleHandler',
      'packages/widget/src/create-handler.ts:2 imports confirmLifecycleActionLive',
      'packages/widget/src/create-handler.ts:2 imports startHeartbeat',
      'packages/widget/src/create-handler.ts:7 calls addMetric',
    ]);
  });

  it('passes a hook factory of exactly 40 lines that only declares its hook', () => {
    const violations = only(
      'hook-handler',
      check({
        'packages/widget/src/create-handler.ts': [
          "import { createLifecycleHandler } from '@netkit/aws-core/lifecycle-hook';",
          'export interface HandlerDeps {',
          '  clock: Clock;',
          '}',
          'export function createHandler(deps: HandlerDeps) {',
          '  return createLifecycleHandler(deps, { launch: (run) => run.count("Claimed", 1) });',
          ...Array.from({ length: 33 }, () => '  // declaration'),
          '}',
          '',
        ].join('\n'),
      }),
    );

    expect(violations).toEqual([]);
  });

  it('reports every export of packages/*/src that no other file imports, at its line', () => {
    const violations = check({
      'packages/widget/src/parts.ts': [
        'export function used() {}',
        'export const viaJs = 1, unused = 2;',
        'export interface TypeOnly {}',
        'export enum Mode { A }',
        'export class Shape {}',
        'export const onlySelf = 3;',
        'export default onlySelf;',
        'export type { Hidden as Renamed };',
        'const local = onlySelf;',
      ].join('\n'),
      'packages/widget/src/spin.ts': [
        "import { type TypeOnly, viaJs } from './parts.js';",
        "export { Mode as Kind, Shape } from './parts.ts';",
        'export function spin() {}',
      ].join('\n'),
      'packages/widget/test/unit/spin.test.ts': [
        "import { type Config, loadConfig } from '../../src/config.ts';",
        "import { WidgetError } from '../../src/errors.ts';",
        "import { Kind, spin } from '../../src/spin.ts';",
        "import { used } from '../../src/parts.ts';",
      ].join('\n'),
      'packages/widget/dist/index.mjs': "import { Renamed } from '../src/parts.ts';\n",
      'packages/widget/src/all.ts': "export * from './star.ts';\n",
      'packages/widget/src/star.ts': 'export const s1 = 1;\nexport function s2() {}\n',
      'packages/widget/demo/scenario.ts': "import { s1 } from '../src/all.ts';\n",
      'packages/aws-core/src/sub.ts': 'export const fromSub = 1;\nexport const subUnused = 2;\n',
      'packages/aws-core/src/hidden.ts': 'export const notExported = 1;\n',
      'infra/src/deploy.ts': [
        "import { fromSub } from '@netkit/aws-core/sub';",
        "import { notExported } from '@netkit/aws-core/src/hidden.ts';",
        "type T = import('../../packages/widget/src/dyn.ts').DynType;",
      ].join('\n'),
      'packages/aws-core/package.json': JSON.stringify({
        name: '@netkit/aws-core',
        exports: { './errors': './src/errors.ts', './retry': './src/retry.ts', './sub': './src/sub.ts' },
      }),
      'tools/demo/src/cli.ts': "const { dyn } = await import('../../../packages/widget/src/dyn.ts');\n",
      'packages/widget/src/dyn.ts':
        'export const dyn = 1;\nexport type DynType = 2;\nexport const notDyn = 3;\n',
    });

    expect(violations.map((v) => `${v.file}:${v.line} ${v.message.split(' is ')[0]}`)).toEqual([
      "packages/aws-core/src/hidden.ts:1 'notExported'",
      "packages/aws-core/src/sub.ts:2 'subUnused'",
      "packages/widget/src/dyn.ts:3 'notDyn'",
      "packages/widget/src/parts.ts:2 'unused'",
      "packages/widget/src/parts.ts:6 'onlySelf'",
      "packages/widget/src/parts.ts:7 'default'",
      "packages/widget/src/parts.ts:8 'Renamed'",
      "packages/widget/src/spin.ts:2 'Shape'",
    ]);
    expect(violations[0]!.message).toBe(
      "'notExported' is imported by no other file; drop the export (or the code)",
    );
  });

  it("counts a bundle entry's handler and a factory's deps interface as used, nothing else of theirs", () => {
    const violations = check({
      'packages/widget/src/sweeper-handler.ts':
        "import { createSweeperHandler } from './create-sweeper-handler.ts';\nexport const handler = 1;\nexport const extra = 2;\n",
    });

    expect(
      only('unused-export', violations).map((v) => `${v.file}:${v.line} ${v.message.split(' is ')[0]}`),
    ).toEqual(["packages/widget/src/sweeper-handler.ts:3 'extra'"]);
  });

  it('prints the violations grouped by area, one per line with file and line', () => {
    const violations = check({
      'packages/widget/test/unit/fake-ec2.ts': '',
      'infra/src/x.ts': 'class E extends Error {}',
    });

    expect(formatViolations(violations).split('\n')).toEqual([
      'house style: 1 violation(s)',
      'packages/widget (1)',
      '  packages/widget/test/unit/fake-ec2.ts:1 [test-folders] test/unit holds *.test.ts files only; move shared test code to test/support/',
    ]);
  });
});

describe('compareWithBaseline', () => {
  const v = (file: string, rule: Violation['rule'], line = 1): Violation => ({
    file,
    rule,
    line,
    message: 'm',
  });

  it('lets through only the violations the baseline lists, as many times as it lists them', () => {
    // Prepare
    const violations = [
      v('packages/a/src/x.ts', 'function-length', 3),
      v('packages/a/src/x.ts', 'function-length', 90),
      v('packages/a/src/y.ts', 'error-classes'),
    ];
    // Act
    const { fresh, stale } = compareWithBaseline(violations, [baselineKey(violations[0] as Violation)]);
    // Assess
    expect(fresh.map((f) => `${f.file}:${f.line}`)).toEqual([
      'packages/a/src/x.ts:90',
      'packages/a/src/y.ts:1',
    ]);
    expect(stale).toEqual([]);
  });

  it('reports baseline entries that no longer occur as stale, so the baseline only shrinks', () => {
    // Act
    const { fresh, stale } = compareWithBaseline([], ['packages/a/src/x.ts [layout]']);
    // Assess
    expect(fresh).toEqual([]);
    expect(stale).toEqual(['packages/a/src/x.ts [layout]']);
  });
});
