import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { areaOf, checkConventions, compareWithBaseline, formatViolations } from '../src/check.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const folders = (dir: string) =>
  readdirSync(resolve(ROOT, dir), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `${dir}/${d.name}`);

// Checked once; each part of the repo is its own test so a failure names the package and lists its violations.
const violations = checkConventions(ROOT);
// Violations that predate the check and are still being removed (a ratchet): a new one fails, and a
// listed one that is fixed fails too until it is deleted from the list. See known-violations.json.
const baseline: string[] = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../known-violations.json'), 'utf8'),
).violations;
// `packages` as a whole holds the Lambda code budget.
const AREAS = ['packages', ...folders('packages'), 'infra', ...folders('tools')];

describe('the repo follows the house style (docs/package-conventions.md)', () => {
  it('finds the parts it checks', () => {
    expect(AREAS).toEqual(
      expect.arrayContaining(['packages/aws-core', 'packages/nat-reaper', 'infra', 'tools/conventions']),
    );
  });

  it('puts every violation in a part it checks, so none goes unreported', () => {
    expect(violations.filter((v) => !AREAS.includes(areaOf(v.file)))).toEqual([]);
  });

  it.each(AREAS)('%s', (area) => {
    const own = violations.filter((v) => areaOf(v.file) === area);
    const known = baseline.filter((key) => areaOf(key.split(' ')[0] ?? '') === area);
    const { fresh, stale } = compareWithBaseline(own, known);
    // On failure the diff is the list of violations, one `file:line [rule] message` per line.
    expect(formatViolations(fresh)).toBe('house style: no violations');
    expect(stale, 'fixed: delete these from tools/conventions/known-violations.json').toEqual([]);
  });
});
