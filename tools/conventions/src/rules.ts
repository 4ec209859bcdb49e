// The mechanical rules of docs/package-conventions.md ("House style"), one function per rule.
// Each takes the checked root (the repo, or a fixture tree in the tests) and returns its violations.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';
import {
  exportedNames,
  folders,
  lineOf,
  nodes,
  parse,
  rel,
  sourceFiles,
  type Violation,
  walk,
} from './source.ts';

/** The longest function, method or arrow function allowed, in lines (rule 6). */
export const MAX_FUNCTION_LINES = 60;

/** The shared library: it owns retries, heartbeats and the error base class, and has no Lambda entry. */
export const CORE_PACKAGE = 'aws-core';

/** The behaviour packages under `packages/` (every package but aws-core). */
export function behaviourPackages(root: string): string[] {
  return folders(join(root, 'packages')).filter((p) => p !== CORE_PACKAGE);
}

/** The folders whose `src/` the source rules read: packages/*, infra, tools/*. */
export function sourceRoots(root: string): string[] {
  return [
    ...folders(join(root, 'packages')).map((p) => join(root, 'packages', p, 'src')),
    join(root, 'infra', 'src'),
    ...folders(join(root, 'tools')).map((t) => join(root, 'tools', t, 'src')),
  ];
}

/** One bundle entry of a package's build.mjs: `entries: { <name>: '<file>' }`. */
export interface Entry {
  name: string;
  file: string;
  line: number;
}

/** The entries of `build.mjs`, read from its `entries` object literal. */
export function buildEntries(buildFile: string): Entry[] {
  const file = parse(buildFile);
  for (const node of nodes(file)) {
    if (!ts.isPropertyAssignment(node) || node.name.getText(file) !== 'entries') continue;
    if (!ts.isObjectLiteralExpression(node.initializer)) return [];
    return node.initializer.properties.filter(ts.isPropertyAssignment).map((p) => ({
      name: ts.isStringLiteral(p.name) ? p.name.text : p.name.getText(file),
      file: ts.isStringLiteral(p.initializer) ? p.initializer.text : p.initializer.getText(file),
      line: lineOf(p, file),
    }));
  }
  return [];
}

/**
 * Exports used from outside the repo's imports: Lambda imports `handler` of every bundle entry, and rule 3
 * requires each factory to export its deps interface.
 */
export function externalUses(root: string): { file: string; name: string }[] {
  return behaviourPackages(root).flatMap((pkg) => {
    const buildFile = join(root, 'packages', pkg, 'build.mjs');
    const entries = existsSync(buildFile) ? buildEntries(buildFile) : [];
    const handlers = entries.map((e) => ({
      file: `packages/${pkg}/${e.file.replace(/^\.\//, '')}`,
      name: 'handler',
    }));
    const deps = sourceFiles(join(root, 'packages', pkg, 'src')).flatMap((path) => {
      const name = depsNameOf(path);
      return name === undefined ? [] : [{ file: rel(root, path), name }];
    });
    return [...handlers, ...deps];
  });
}

/** The files an entry may be (rule 1, 2): Lambda `<entry>-handler.ts` (index: handler.ts) or a CLI. */
function entryShapes(entry: string): { handler: string; factory: string; clis: string[] } {
  const lambda = entry === 'index' ? '' : `${entry}-`;
  const clis = [`src/${entry}-cli.ts`];
  if (entry.endsWith('-cli')) clis.push(`src/${entry}.ts`);
  return { handler: `src/${lambda}handler.ts`, factory: `src/create-${lambda}handler.ts`, clis };
}

function checkEntry(root: string, pkg: string, entry: Entry): Violation[] {
  const dir = join(root, 'packages', pkg);
  const buildFile = `packages/${pkg}/build.mjs`;
  const shape = entryShapes(entry.name);
  if (shape.clis.includes(entry.file) && entry.name !== 'index') return [];
  if (entry.file !== shape.handler) {
    const expected = [shape.handler, ...(entry.name === 'index' ? [] : shape.clis)].join(' or ');
    const message = `entry '${entry.name}' is ${entry.file}; expected ${expected}`;
    return [{ rule: 'layout', file: buildFile, line: entry.line, message }];
  }
  if (existsSync(join(dir, shape.factory))) return [];
  const message = `entry '${entry.name}' (${entry.file}) has no factory ${shape.factory}`;
  return [{ rule: 'layout', file: buildFile, line: entry.line, message }];
}

function checkConfigFile(root: string, pkg: string, entries: Entry[]): Violation[] {
  const path = `packages/${pkg}/src/config.ts`;
  if (!existsSync(join(root, path))) {
    return [
      { rule: 'layout', file: path, line: 1, message: 'missing: every package reads its configuration here' },
    ];
  }
  const names = exportedNames(parse(join(root, path))).map((e) => e.name);
  const hasIndex = entries.some((e) => e.name === 'index');
  const loaders = entries.map((e) => (e.name === 'index' ? 'loadConfig' : `load${pascal(e.name)}Config`));
  const found = hasIndex ? names.includes('loadConfig') : loaders.some((l) => names.includes(l));
  if (found) return [];
  const message = `does not export ${hasIndex ? 'loadConfig' : loaders.join(' or ')}`;
  return [{ rule: 'layout', file: path, line: 1, message }];
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash, c: string) => c.toUpperCase());
}

/**
 * Rule 1, 2, 4, 9 (file names): every behaviour package has a Lambda entry; the `index` entry is
 * src/handler.ts with src/create-handler.ts; another Lambda entry is src/<entry>-handler.ts with
 * src/create-<entry>-handler.ts; a command-line entry is src/<entry>-cli.ts; src/config.ts exports the
 * loader; src/errors.ts exists.
 */
export function checkLayout(root: string): Violation[] {
  const out: Violation[] = [];
  for (const pkg of behaviourPackages(root)) {
    const buildFile = join(root, 'packages', pkg, 'build.mjs');
    if (!existsSync(buildFile)) {
      out.push({
        rule: 'layout',
        file: rel(root, buildFile),
        line: 1,
        message: 'missing: no bundle entries',
      });
      continue;
    }
    const entries = buildEntries(buildFile);
    if (!entries.some((e) => e.file.endsWith('handler.ts'))) {
      out.push({ rule: 'layout', file: rel(root, buildFile), line: 1, message: 'has no Lambda entry' });
    }
    for (const entry of entries) out.push(...checkEntry(root, pkg, entry));
    out.push(...checkConfigFile(root, pkg, entries));
    const errors = `packages/${pkg}/src/errors.ts`;
    if (!existsSync(join(root, errors))) {
      out.push({
        rule: 'layout',
        file: errors,
        line: 1,
        message: 'missing: every error class of the package lives here',
      });
    }
  }
  return out;
}

/** Rule 1: an entry file (src/handler.ts, src/<entry>-handler.ts; not a create-* factory) exports only `handler`. */
export function checkEntryExports(root: string): Violation[] {
  const out: Violation[] = [];
  for (const pkg of behaviourPackages(root)) {
    const src = join(root, 'packages', pkg, 'src');
    const entries = sourceFiles(src).filter((f) => {
      const name = basename(f);
      return (name === 'handler.ts' || name.endsWith('-handler.ts')) && !name.startsWith('create-');
    });
    for (const path of entries) {
      for (const exported of exportedNames(parse(path))) {
        if (exported.name === 'handler') continue;
        const message = `entry file exports '${exported.name}'; an entry is wiring only and exports only 'handler'`;
        out.push({ rule: 'entry-exports', file: rel(root, path), line: exported.line, message });
      }
    }
  }
  return out;
}

type FunctionLike =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

function isFunctionLike(node: ts.Node): node is FunctionLike {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** A readable name for a function: its own, or the variable, property or class member it is assigned to. */
export function functionName(node: FunctionLike, file: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText(file);
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  ) {
    return parent.name.getText(file);
  }
  return '(anonymous)';
}

/** Rule 6: no function, method or arrow function in packages/*\/src, infra/src or tools/*\/src over 60 lines. */
export function checkFunctionLength(root: string, max: number = MAX_FUNCTION_LINES): Violation[] {
  const out: Violation[] = [];
  for (const dir of sourceRoots(root)) {
    for (const path of sourceFiles(dir)) {
      const file = parse(path);
      for (const node of nodes(file)) {
        if (!isFunctionLike(node) || !node.body) continue;
        const start = lineOf(node, file);
        const end = file.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
        const lines = end - start + 1;
        if (lines <= max) continue;
        const message = `${functionName(node, file)} is ${lines} lines (at most ${max}); split it along its own steps`;
        out.push({ rule: 'function-length', file: rel(root, path), line: start, message });
      }
    }
  }
  return out;
}

/** Names that only aws-core may use: its generic retry and backoff, and the raw heartbeat call. */
const CORE_ONLY_FROM_AWS_CORE = new Set(['retry', 'backoffDelay']);
const HEARTBEAT_COMMAND = 'RecordLifecycleActionHeartbeatCommand';

function importViolations(root: string, path: string): Violation[] {
  const out: Violation[] = [];
  const file = parse(path);
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const from = statement.moduleSpecifier.text;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || !ts.isNamedImports(bindings)) continue;
    for (const element of bindings.elements) {
      const name = (element.propertyName ?? element.name).text;
      const coreOnly = from.startsWith('@netkit/aws-core') && CORE_ONLY_FROM_AWS_CORE.has(name);
      if (!coreOnly && name !== HEARTBEAT_COMMAND) continue;
      const message =
        name === HEARTBEAT_COMMAND
          ? `imports ${name}: heartbeats go through createLifecycleHandler or startHeartbeat from aws-core`
          : `imports '${name}' from ${from}: call AWS with awsCall, wait with pollUntil`;
      out.push({ rule: 'aws-core-helpers', file: rel(root, path), line: lineOf(element, file), message });
    }
  }
  return out;
}

/** Rule 7: outside aws-core no source file imports the raw heartbeat command or aws-core's `retry` / `backoffDelay`. */
export function checkAwsCoreHelpers(root: string): Violation[] {
  const core = join(root, 'packages', CORE_PACKAGE, 'src');
  return sourceRoots(root)
    .filter((dir) => dir !== core)
    .flatMap((dir) => sourceFiles(dir).flatMap((path) => importViolations(root, path)));
}

function isErrorClass(node: ts.ClassLikeDeclaration, file: ts.SourceFile): boolean {
  if (node.name?.text.endsWith('Error')) return true;
  const base = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
  return base !== undefined && /Error$/.test(base.expression.getText(file));
}

/** `name = ...` as a class property, or `this.name = ...` inside the class. */
function nameOverrides(node: ts.ClassLikeDeclaration, file: ts.SourceFile): ts.Node[] {
  const found: ts.Node[] = [];
  for (const member of node.members) {
    if (ts.isPropertyDeclaration(member) && member.name.getText(file) === 'name') found.push(member);
  }
  const visit = (n: ts.Node): void => {
    if (n !== node && ts.isClassLike(n)) return;
    if (
      ts.isBinaryExpression(n) &&
      n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      n.left.getText(file) === 'this.name'
    ) {
      found.push(n);
    }
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(node, visit);
  return found;
}

/** The one class allowed to set `name`: aws-core's base class, which derives it for every subclass. */
function isNetkitErrorBase(root: string, path: string, node: ts.ClassLikeDeclaration): boolean {
  return rel(root, path) === `packages/${CORE_PACKAGE}/src/errors.ts` && node.name?.text === 'NetkitError';
}

/** Rule 9: error classes in packages/*\/src live in src/errors.ts and never override `name`. */
export function checkErrorClasses(root: string): Violation[] {
  const out: Violation[] = [];
  for (const pkg of folders(join(root, 'packages'))) {
    for (const path of sourceFiles(join(root, 'packages', pkg, 'src'))) {
      const file = parse(path);
      const inErrorsFile = rel(root, path) === `packages/${pkg}/src/errors.ts`;
      for (const node of nodes(file)) {
        if (!ts.isClassLike(node) || !isErrorClass(node, file)) continue;
        const name = node.name?.text ?? '(anonymous class)';
        if (!inErrorsFile) {
          const message = `error class ${name} is outside src/errors.ts`;
          out.push({ rule: 'error-classes', file: rel(root, path), line: lineOf(node, file), message });
        }
        if (isNetkitErrorBase(root, path, node)) continue;
        for (const override of nameOverrides(node, file)) {
          const message = `error class ${name} sets 'name'; NetkitError derives it`;
          out.push({ rule: 'error-classes', file: rel(root, path), line: lineOf(override, file), message });
        }
      }
    }
  }
  return out;
}

/** Rule 10: packages/*\/test/unit and test/integration hold *.test.ts files only (support goes to test/support). */
export function checkTestFolders(root: string): Violation[] {
  const out: Violation[] = [];
  for (const pkg of folders(join(root, 'packages'))) {
    for (const kind of ['unit', 'integration']) {
      for (const path of walk(join(root, 'packages', pkg, 'test', kind))) {
        if (path.endsWith('.test.ts')) continue;
        const message = `test/${kind} holds *.test.ts files only; move shared test code to test/support/`;
        out.push({ rule: 'test-folders', file: rel(root, path), line: 1, message });
      }
    }
  }
  return out;
}

/** The deps interface a factory file must export: `HandlerDeps`, or `<Entry>HandlerDeps` for `create-<entry>-handler.ts`. */
function depsNameOf(factoryFile: string): string | undefined {
  const name = basename(factoryFile);
  if (name === 'create-handler.ts') return 'HandlerDeps';
  const entry = /^create-(.+)-handler\.ts$/.exec(name)?.[1];
  return entry === undefined ? undefined : `${pascal(entry)}HandlerDeps`;
}

function depsViolations(root: string, path: string): Violation[] {
  const depsName = depsNameOf(path);
  if (depsName === undefined) return [];
  const file = parse(path);
  const exported = exportedNames(file).some((e) => e.name === depsName);
  if (!exported) {
    const message = `does not export its deps interface ${depsName}`;
    return [{ rule: 'handler-deps', file: rel(root, path), line: 1, message }];
  }
  const declaration = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === depsName,
  );
  if (declaration === undefined) return []; // a type alias: its members are not checked here
  const clock = declaration.members.find((m) => m.name?.getText(file) === 'clock');
  if (clock !== undefined && clock.questionToken === undefined) return [];
  const message = `${depsName}.clock is ${clock === undefined ? 'missing' : 'optional'}; it is always required (the entry passes systemClock)`;
  return [{ rule: 'handler-deps', file: rel(root, path), line: lineOf(clock ?? declaration, file), message }];
}

/** Rule 3: each factory file exports its deps interface, `HandlerDeps` / `<Entry>HandlerDeps`, with a required `clock`. */
export function checkHandlerDeps(root: string): Violation[] {
  return behaviourPackages(root).flatMap((pkg) =>
    sourceFiles(join(root, 'packages', pkg, 'src'))
      .filter((f) => depsNameOf(f) !== undefined)
      .flatMap((path) => depsViolations(root, path)),
  );
}
