// Sums the vitest JSON reports every workspace package wrote (.test-results.json)
// and prints one closing line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dirs = ['packages', 'tools'].flatMap((parent) =>
  readdirSync(parent, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(parent, d.name)),
);
dirs.push('infra');
const files = dirs.map((d) => join(d, '.test-results.json')).filter((f) => existsSync(f));
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numFailedTests ?? 0) > 0 || r.success === false)
    console.log(`  failures in ${file.replace('/.test-results.json', '')}`);
}
if (files.length === 0) {
  console.log('No test results were written.');
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
