// The house-style check (docs/package-conventions.md, "House style"): every mechanical rule over a tree.
import {
  checkAwsCoreHelpers,
  checkEntryExports,
  checkErrorClasses,
  checkFunctionLength,
  checkHandlerDeps,
  checkLayout,
  checkTestFolders,
} from './rules.ts';
import type { Violation } from './source.ts';

export { MAX_FUNCTION_LINES } from './rules.ts';
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
  ];
  return all.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}

/** The part of the repo a violation belongs to: `packages/<name>`, `tools/<name>` or `infra`. */
export function areaOf(file: string): string {
  const [top, name] = file.split('/');
  return top === 'packages' || top === 'tools' ? `${top}/${name}` : (top ?? file);
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
