// The unused-export rule: every export of packages/*/src is imported by some other file of the repo.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { exportedNames, folders, parse, rel, sourceFiles, type Violation } from './source.ts';

/** The folders whose files count as importers: tests, benchmarks, demos, tools and infra all do. */
const IMPORTER_ROOTS = ['packages', 'tools', 'infra', 'test', 'bench', 'scripts'];
const IMPORTER = /\.(ts|mts|mjs|js)$/;
/** A use of every export of a file: `import *`, `export *`, a dynamic import whose names are not read. */
const ALL = '*';

/** A workspace package: its folder and the `exports` of its package.json. */
interface Workspace {
  dir: string;
  exports: unknown;
}

/** The workspace packages under `root`, by name (`@netkit/aws-core` -> packages/aws-core). */
function workspaces(root: string): Map<string, Workspace> {
  const dirs = [
    ...folders(join(root, 'packages')).map((p) => join(root, 'packages', p)),
    ...folders(join(root, 'tools')).map((t) => join(root, 'tools', t)),
    join(root, 'infra'),
    join(root, 'test'),
    ...folders(join(root, 'test')).map((t) => join(root, 'test', t)),
  ];
  const out = new Map<string, Workspace>();
  for (const dir of dirs) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; exports?: unknown };
    if (json.name) out.set(json.name, { dir, exports: json.exports });
  }
  return out;
}

const isFile = (path: string): boolean => existsSync(path) && statSync(path).isFile();

/** The file a path without or with a JS extension names (TypeScript's own lookup, minus node_modules). */
function resolveFile(path: string): string | undefined {
  const candidates = [
    path,
    path.replace(/\.js$/, '.ts'),
    path.replace(/\.mjs$/, '.mts'),
    ...['.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js'].map((ext) => path + ext),
  ];
  return candidates.find(isFile);
}

/** The target of a package.json `exports` entry: a string, or the `import` / `default` condition. */
function exportTarget(exports: unknown, key: string): string | undefined {
  if (typeof exports === 'string') return key === '.' ? exports : undefined;
  if (exports === null || typeof exports !== 'object') return undefined;
  const entry = (exports as Record<string, unknown>)[key];
  if (typeof entry === 'string') return entry;
  if (entry === null || typeof entry !== 'object') return undefined;
  const conditions = entry as Record<string, unknown>;
  const target = conditions['import'] ?? conditions['default'];
  return typeof target === 'string' ? target : undefined;
}

/** The file an import specifier names: relative to the importer, or a workspace package (sub)path. */
export function resolveImport(
  spec: string,
  from: string,
  packages: Map<string, Workspace>,
): string | undefined {
  if (spec.startsWith('.')) return resolveFile(resolve(dirname(from), spec));
  const match = /^(@[^/]+\/[^/]+|[^@/][^/]*)(\/.+)?$/.exec(spec);
  const pkg = match && packages.get(match[1]!);
  if (!match || !pkg) return undefined;
  const sub = match[2];
  if (pkg.exports === undefined) return resolveFile(join(pkg.dir, sub ?? 'index'));
  const target = exportTarget(pkg.exports, sub ? `.${sub}` : '.');
  return target === undefined ? undefined : resolveFile(join(pkg.dir, target));
}

/** One file's uses of another's exports: the module specifier and the names (ALL for every one). */
interface Use {
  spec: string;
  names: string[];
}

function namedUses(bindings: ts.NamedImportBindings | ts.NamedExportBindings | undefined): string[] {
  if (!bindings || ts.isNamespaceImport(bindings) || ts.isNamespaceExport(bindings)) return [ALL];
  return bindings.elements.map((e) => (e.propertyName ?? e.name).text);
}

function staticUse(statement: ts.Statement): Use | undefined {
  if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
    const clause = statement.importClause;
    if (!clause) return { spec: statement.moduleSpecifier.text, names: [] };
    const names = clause.namedBindings ? namedUses(clause.namedBindings) : [];
    return { spec: statement.moduleSpecifier.text, names: clause.name ? ['default', ...names] : names };
  }
  if (
    ts.isExportDeclaration(statement) &&
    statement.moduleSpecifier &&
    ts.isStringLiteral(statement.moduleSpecifier)
  ) {
    return { spec: statement.moduleSpecifier.text, names: namedUses(statement.exportClause) };
  }
  return undefined;
}

/** `const { a, b } = await import('x')` reads a and b; any other dynamic import reads everything. */
function dynamicNames(call: ts.CallExpression): string[] {
  const awaited = ts.isAwaitExpression(call.parent) ? call.parent : undefined;
  const declaration = awaited && ts.isVariableDeclaration(awaited.parent) ? awaited.parent : undefined;
  if (!declaration || !ts.isObjectBindingPattern(declaration.name)) return [ALL];
  return declaration.name.elements.map((e) => (e.propertyName ?? e.name).getText());
}

function leftmost(name: ts.EntityName): string {
  return ts.isIdentifier(name) ? name.text : leftmost(name.left);
}

/** Dynamic `import('x')` calls and `import('x').Name` types, found anywhere in the file. */
function dynamicUses(file: ts.SourceFile): Use[] {
  const out: Use[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ spec: node.arguments[0].text, names: dynamicNames(node) });
    }
    if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push({
        spec: node.argument.literal.text,
        names: node.qualifier ? [leftmost(node.qualifier)] : [ALL],
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

function usesOf(file: ts.SourceFile): Use[] {
  const uses = file.statements.map(staticUse).filter((u): u is Use => u !== undefined);
  return file.text.includes('import(') ? [...uses, ...dynamicUses(file)] : uses;
}

/** For every imported file, the names other files use (ALL: every one; an empty set: the file only). */
function usedNames(root: string): Map<string, Set<string>> {
  const packages = workspaces(root);
  const used = new Map<string, Set<string>>();
  const files = IMPORTER_ROOTS.flatMap((dir) => sourceFiles(join(root, dir))).filter((f) => IMPORTER.test(f));
  for (const path of files) {
    for (const use of usesOf(parse(path))) {
      const target = resolveImport(use.spec, path, packages);
      if (target === undefined || target === path) continue;
      const names = used.get(target) ?? new Set<string>();
      for (const name of use.names) names.add(name);
      used.set(target, names);
    }
  }
  return used;
}

/** An export that counts as used without an importer: a bundle entry's `handler`, a factory's deps interface. */
export interface ExternalUse {
  file: string;
  name: string;
}

function markExternal(root: string, used: Map<string, Set<string>>, external: readonly ExternalUse[]): void {
  for (const { file, name } of external) {
    const target = join(root, file);
    used.set(target, new Set([...(used.get(target) ?? []), name]));
  }
}

/**
 * No unused export: every name a packages/*\/src file exports is imported by another file of the repo
 * (`export *` and `import *` use every name; a file's `export *` counts as used when anything imports it).
 * `external` (repo-relative files) are used from outside: Lambda imports each entry's `handler`.
 */
export function checkUnusedExports(root: string, external: readonly ExternalUse[]): Violation[] {
  const used = usedNames(root);
  markExternal(root, used, external);
  const out: Violation[] = [];
  for (const pkg of folders(join(root, 'packages'))) {
    for (const path of sourceFiles(join(root, 'packages', pkg, 'src'))) {
      if (!/\.(ts|mts)$/.test(path)) continue;
      const names = used.get(path);
      for (const exported of exportedNames(parse(path))) {
        if (names?.has(ALL) || names?.has(exported.name)) continue;
        if (exported.name === ALL && names !== undefined && names.size > 0) continue;
        const what = exported.name === ALL ? 'export *' : `'${exported.name}'`;
        const message = `${what} is imported by no other file; drop the export (or the code)`;
        out.push({ rule: 'unused-export', file: rel(root, path), line: exported.line, message });
      }
    }
  }
  return out;
}
