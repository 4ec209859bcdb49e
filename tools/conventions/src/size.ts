// The size rules of issue #28: file length, the Lambda code budget and the thin hook factories.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { folders, lineCount, lineOf, nodes, parse, rel, sourceFiles, type Violation } from './source.ts';

/** The longest file allowed in packages/*\/src, in lines (rule 6). */
export const MAX_FILE_LINES = 400;

/** The Lambda code budget: aws-core/src plus every behaviour package's src, in lines as `wc -l` counts them. */
export const MAX_LAMBDA_LINES = 7500;

/** The longest create-handler.ts of a lifecycle-hook package, in lines (rule 2). */
export const MAX_HOOK_FACTORY_LINES = 40;

/** The hook packages, whatever their factory imports today. */
export const HOOK_PACKAGES = ['eip-associator', 'eni-attach', 'eni-pool-agent'];

/** What the lifecycle-hook runner owns: liveness, heartbeat, completion (imported or called) and metrics (called). */
const RUNNER_ONLY = new Set([
  'completeLifecycleAction',
  'confirmLifecycleActionLive',
  'startHeartbeat',
  'recordLifecycleHeartbeat',
]);
const RUNNER_ONLY_CALLS = new Set([...RUNNER_ONLY, 'addMetric', 'publishStoredMetrics']);

const tsFiles = (dir: string): string[] => sourceFiles(dir).filter((f) => /\.(ts|mts)$/.test(f));

/** Rule 6: no file in packages/*\/src over 400 lines. */
export function checkFileLength(root: string, max: number = MAX_FILE_LINES): Violation[] {
  const out: Violation[] = [];
  for (const pkg of folders(join(root, 'packages'))) {
    for (const path of sourceFiles(join(root, 'packages', pkg, 'src'))) {
      const lines = lineCount(readFileSync(path, 'utf8'));
      if (lines <= max) continue;
      const message = `${lines} lines (at most ${max}); split it along its verbs, one per file`;
      out.push({ rule: 'file-length', file: rel(root, path), line: 1, message });
    }
  }
  return out;
}

/** The Lambda code budget: one violation, on `packages`, naming the total and each package's share. */
export function checkLambdaBudget(root: string, max: number = MAX_LAMBDA_LINES): Violation[] {
  const shares = folders(join(root, 'packages')).map((pkg) => {
    const files = tsFiles(join(root, 'packages', pkg, 'src'));
    return { pkg, lines: files.reduce((sum, f) => sum + lineCount(readFileSync(f, 'utf8')), 0) };
  });
  const total = shares.reduce((sum, s) => sum + s.lines, 0);
  if (total <= max) return [];
  const each = shares.map((s) => `${s.pkg} ${s.lines}`).join(', ');
  const message = `Lambda code is ${total} lines (at most ${max}): ${each}`;
  return [{ rule: 'lambda-budget', file: 'packages', line: 1, message }];
}

function importsRunner(file: ts.SourceFile): boolean {
  return file.statements.some(
    (s) =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      s.moduleSpecifier.text === '@netkit/aws-core/lifecycle-hook',
  );
}

/** The name a call calls: `f(...)` -> f, `a.b.f(...)` -> f. */
function calleeName(call: ts.CallExpression): string | undefined {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return callee.text;
  return ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
}

function runnerWork(root: string, path: string, file: ts.SourceFile): Violation[] {
  const out: Violation[] = [];
  const report = (node: ts.Node, what: string) =>
    out.push({
      rule: 'hook-handler',
      file: rel(root, path),
      line: lineOf(node, file),
      message: `${what}: liveness, heartbeat, completion and metrics belong to createLifecycleHandler`,
    });
  for (const node of nodes(file)) {
    if (ts.isImportSpecifier(node) && RUNNER_ONLY.has((node.propertyName ?? node.name).text)) {
      report(node, `imports ${(node.propertyName ?? node.name).text}`);
    }
    const name = ts.isCallExpression(node) ? calleeName(node) : undefined;
    if (name !== undefined && RUNNER_ONLY_CALLS.has(name)) report(node, `calls ${name}`);
  }
  return out;
}

/**
 * Rule 2: a hook package (its create-handler.ts imports @netkit/aws-core/lifecycle-hook, and always
 * eip-associator, eni-attach, eni-pool-agent) declares its hook in at most 40 lines and leaves
 * liveness, heartbeat, completion and metrics to the runner.
 */
export function checkHookHandlers(root: string, max: number = MAX_HOOK_FACTORY_LINES): Violation[] {
  const out: Violation[] = [];
  for (const pkg of folders(join(root, 'packages'))) {
    const path = join(root, 'packages', pkg, 'src', 'create-handler.ts');
    if (!existsSync(path)) continue;
    const file = parse(path);
    if (!HOOK_PACKAGES.includes(pkg) && !importsRunner(file)) continue;
    const lines = lineCount(file.text);
    if (lines > max) {
      const message = `${lines} lines (at most ${max}); a hook factory only declares its hook for createLifecycleHandler`;
      out.push({ rule: 'hook-handler', file: rel(root, path), line: 1, message });
    }
    out.push(...runnerWork(root, path, file));
  }
  return out;
}
