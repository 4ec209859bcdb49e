import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/** One broken rule: the file (relative to the checked root, `/`-separated), its line (1-based) and what is wrong. */
export interface Violation {
  rule: RuleName;
  file: string;
  line: number;
  message: string;
}

export type RuleName =
  | 'layout'
  | 'entry-exports'
  | 'handler-deps'
  | 'function-length'
  | 'aws-core-helpers'
  | 'error-classes'
  | 'test-folders'
  | 'file-length'
  | 'lambda-budget'
  | 'unused-export'
  | 'hook-handler';

const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIPPED = new Set(['node_modules', 'dist', '.turbo', '__pycache__', '.aws-sam']);

/** Every file under `dir` (recursively, skipping build output and dependencies), as absolute paths, sorted. */
export function walk(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** The TypeScript/JavaScript source files under `dir`. */
export function sourceFiles(dir: string): string[] {
  return walk(dir).filter((f) => SOURCE.test(f) && !f.endsWith('.d.ts'));
}

/** The sub-folders of `dir` (names only, sorted); none when it does not exist. */
export function folders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !SKIPPED.has(name) && statSync(join(dir, name)).isDirectory())
    .sort();
}

/** `path` relative to `root`, with `/` separators (as the report prints it). */
export function rel(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

const parsed = new Map<string, ts.SourceFile>();

/** Parses one file (no type checking: every rule here is syntactic); each text is parsed once per process. */
export function parse(path: string): ts.SourceFile {
  const text = readFileSync(path, 'utf8');
  const known = parsed.get(path);
  if (known?.text === text) return known;
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  parsed.set(path, file);
  return file;
}

/** The lines of a text as `wc -l` counts them (newlines; blank and comment lines included). */
export function lineCount(text: string): number {
  return text.split('\n').length - 1;
}

/** The 1-based line where `node` starts (its first token, not its leading comments). */
export function lineOf(node: ts.Node, file: ts.SourceFile): number {
  return file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
}

/** Every node of `file`, depth first. */
export function* nodes(file: ts.SourceFile): Generator<ts.Node> {
  const stack: ts.Node[] = [file];
  while (stack.length > 0) {
    const node = stack.pop()!;
    yield node;
    const children: ts.Node[] = [];
    ts.forEachChild(node, (child) => {
      children.push(child);
    });
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

function hasExportModifier(node: ts.Node): boolean {
  return ts.canHaveModifiers(node)
    ? (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    : false;
}

/** One exported name of a module and the line that exports it. */
export interface ExportedName {
  name: string;
  line: number;
}

function exportsOfStatement(statement: ts.Statement, file: ts.SourceFile): ExportedName[] {
  const line = lineOf(statement, file);
  if (ts.isExportDeclaration(statement)) {
    const clause = statement.exportClause;
    if (!clause) return [{ name: '*', line }];
    if (ts.isNamespaceExport(clause)) return [{ name: clause.name.text, line }];
    return clause.elements.map((e) => ({ name: e.name.text, line }));
  }
  if (ts.isExportAssignment(statement)) return [{ name: 'default', line }];
  if (!hasExportModifier(statement)) return [];
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations.map((d) => ({ name: d.name.getText(file), line }));
  }
  const named = statement as ts.Statement & { name?: ts.Identifier };
  return [{ name: named.name?.text ?? 'default', line }];
}

/** The names a module exports (values and types), each with its line. */
export function exportedNames(file: ts.SourceFile): ExportedName[] {
  return file.statements.flatMap((s) => exportsOfStatement(s, file));
}
