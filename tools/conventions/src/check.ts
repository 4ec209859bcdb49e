// The house-style check (docs/package-conventions.md, "House style"): every mechanical rule over a tree.
import {
  checkAwsCoreHelpers,
  checkEntryExports,
  checkErrorClasses,
  checkFunctionLength,
  checkHandlerDeps,
  checkLayout,
  checkTestFolders,
  externalUses,
} from './rules.ts';
import { checkFileLength, checkHookHandlers, checkLambdaBudget } from './size.ts';
import type { Violation } from './source.ts';
import { checkUnusedExports } from './unused-exports.ts';

export type { RuleName, Violation } from './source.ts';

/** Every violation of the mechanical house-style rules under `root`, sorted by file and line. */
export function checkConventions(root: string): Violation[] {
  const all = [
    ...checkLayout(root),
    ...checkEntryExports(root),
    ...checkHandlerDeps(root),
    ...checkFunctionLength(root),
    ...checkAwsCoreHelpers(root),
    ...checkErrorClasses(root),
    ...checkTestFolders(root),
    ...checkFileLength(root),
    ...checkLambdaBudget(root),
    ...checkHookHandlers(root),
    ...checkUnusedExports(root, externalUses(root)),
  ];
  return all.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}

/** The part of the repo a violation belongs to: `packages/<name>`, `tools/<name>`, `infra` (or `packages` as a whole). */
export function areaOf(file: string): string {
  const [top, name] = file.split('/');
  return (top === 'packages' || top === 'tools') && name !== undefined ? `${top}/${name}` : (top ?? file);
}

/** One line per violation, `file:line [rule] message`, grouped under their area. */
export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return 'house style: no violations';
  const byArea = new Map<string, Violation[]>();
  for (const v of violations) byArea.set(areaOf(v.file), [...(byArea.get(areaOf(v.file)) ?? []), v]);
  const lines = [`house style: ${violations.length} violation(s)`];
  for (const [area, list] of byArea) {
    lines.push(`${area} (${list.length})`);
    for (const v of list) lines.push(`  ${v.file}:${v.line} [${v.rule}] ${v.message}`);
  }
  return lines.join('\n');
}

/** How a known violation is named in the baseline: its file and rule (lines move as code changes). */
export const baselineKey = (v: Pick<Violation, 'file' | 'rule'>): string => `${v.file} [${v.rule}]`;

/**
 * Compares violations with a baseline of known ones (a ratchet): `fresh` are violations the baseline
 * does not list (each listed key covers as many violations as it is listed times), `stale` are
 * baseline keys that no longer occur and must be removed from it.
 */
export function compareWithBaseline(
  violations: readonly Violation[],
  baseline: readonly string[],
): { fresh: Violation[]; stale: string[] } {
  const left = new Map<string, number>();
  for (const key of baseline) left.set(key, (left.get(key) ?? 0) + 1);
  const fresh: Violation[] = [];
  for (const v of violations) {
    const n = left.get(baselineKey(v)) ?? 0;
    if (n > 0) left.set(baselineKey(v), n - 1);
    else fresh.push(v);
  }
  const stale = [...left].flatMap(([key, n]) => Array.from({ length: n }, () => key));
  return { fresh, stale };
}
