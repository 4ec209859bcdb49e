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
    'packages/aws-core/src/retry.ts': 'export function retry() {}\nexport function backoffDelay() {}\n',
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
    'packages/widget/src/handler.ts': 'export const handler = () => 1;\n',
    'packages/widget/src/create-handler.ts':
      'export interface HandlerDeps {\n  clock: Clock;\n}\nexport function createHandler() {}\n',
    'packages/widget/src/sweeper-handler.ts': 'export const handler = () => 2;\n',
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
      `export function spin() {\n${'  pollUntil;\n'.repeat(78)}}`,
    ].join('\n'),
    'packages/widget/test/unit/spin.test.ts': '',
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
    const violations = check({
      'packages/widget/build.mjs':
        "await bundle({\n  entries: { index: 'src/handler.ts', agent: 'src/agent.ts' },\n});",
    });

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
    const violations = check({
      'packages/widget/src/errors.ts': null,
      'packages/widget/src/config.ts': 'export function parseLambdaConfig() {}\n',
    });

    expect(brief(violations)).toEqual([
      { rule: 'layout', file: 'packages/widget/src/config.ts', line: 1 },
      { rule: 'layout', file: 'packages/widget/src/errors.ts', line: 1 },
    ]);
    expect(violations[0]!.message).toBe('does not export loadConfig');
  });

  it('reports every export of an entry file but handler, each at its line', () => {
    const violations = check({
      'packages/widget/src/handler.ts':
        'export const handler = () => 1;\nexport interface HandlerResult {}\nexport { x as createHandler };\n',
    });

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
    const violations = check({
      'packages/widget/src/create-handler.ts':
        'export interface HandlerDeps {\n  ec2: EC2Client;\n  clock?: Clock;\n}\n',
      'packages/widget/src/create-sweeper-handler.ts': 'export interface Deps {}\n',
    });

    expect(brief(violations)).toEqual([
      { rule: 'handler-deps', file: 'packages/widget/src/create-handler.ts', line: 3 },
      { rule: 'handler-deps', file: 'packages/widget/src/create-sweeper-handler.ts', line: 1 },
    ]);
    expect(violations.map((v) => v.message.split(';')[0])).toEqual([
      'HandlerDeps.clock is optional',
      'does not export its deps interface SweeperHandlerDeps',
    ]);
  });

  it('reports a function over 80 lines at its first line, and not one of exactly 80', () => {
    const long = (kind: string) => `${kind} {\n${'  step();\n'.repeat(79)}}`;
    const violations = check({
      'infra/src/deploy.ts': `// a comment\n${long('export function resolve()')}\n${long('const ok = () =>').replace('  step();\n', '')}`,
    });

    expect(brief(violations)).toEqual([{ rule: 'function-length', file: 'infra/src/deploy.ts', line: 2 }]);
    expect(violations[0]!.message).toBe('resolve is 81 lines (at most 80); split it along its own steps');
  });

  it('measures methods and arrow functions in tools/*/src and packages/*/src by name', () => {
    const body = '  step();\n'.repeat(85);
    const violations = check({
      'tools/demo/src/cli.ts': `export class Cli {\n  run() {\n${body}  }\n}\n`,
      'packages/widget/src/spin.ts': `export const spin = async () => {\n${body}};\n`,
    });

    expect(violations.map((v) => `${v.file}:${v.line} ${v.message.split(' (')[0]}`)).toEqual([
      'packages/widget/src/spin.ts:1 spin is 87 lines',
      'tools/demo/src/cli.ts:2 run is 87 lines',
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
    const violations = check({
      'packages/widget/src/spin.ts':
        '\nexport class SpinFailed extends NetkitError {}\nclass Other extends Error {}\n',
      'packages/aws-core/src/config.ts': 'export class Invalid extends Error {}\n',
    });

    expect(brief(violations)).toEqual([
      { rule: 'error-classes', file: 'packages/aws-core/src/config.ts', line: 1 },
      { rule: 'error-classes', file: 'packages/widget/src/spin.ts', line: 2 },
      { rule: 'error-classes', file: 'packages/widget/src/spin.ts', line: 3 },
    ]);
    expect(violations[1]!.message).toBe('error class SpinFailed is outside src/errors.ts');
  });

  it("reports an error class that sets 'name', as a property or in its constructor", () => {
    const violations = check({
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
    });

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
