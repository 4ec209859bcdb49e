// Rewrites known-violations.json from the current tree: `pnpm --filter @netkit/conventions run baseline`.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { baselineKey, checkConventions } from './check.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FILE = resolve(import.meta.dirname, '../known-violations.json');

const { about } = JSON.parse(readFileSync(FILE, 'utf8')) as { about: string };
const violations = checkConventions(ROOT).map(baselineKey);
writeFileSync(FILE, `${JSON.stringify({ about, violations }, null, 2)}\n`);
console.log(`known-violations.json: ${violations.length} violation(s)`);
