// Sums the vitest JSON reports every workspace package wrote (.test-results/<package folder>.json,
// see vitest.shared.ts) and prints one closing line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = '.test-results';
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => join(dir, f))
  : [];
let passed = 0;
let failed = 0;
let skipped = 0;
let unsuccessful = 0;
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numFailedTests ?? 0) > 0 || r.success === false) {
    unsuccessful += 1;
    console.log(`  failures in ${file}`);
    // The tail of a CI log is often all that is kept: name each failed test and its first message lines.
    for (const suite of r.testResults ?? []) {
      for (const t of suite.assertionResults ?? []) {
        if (t.status !== 'failed') continue;
        console.log(`    x ${suite.name}: ${t.fullName}`);
        const message = (t.failureMessages ?? []).join('\n').split('\n').slice(0, 12);
        for (const line of message) console.log(`        ${line}`);
      }
      if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
        console.log(
          `    x ${suite.name}: ${String(suite.message ?? 'suite failed')
            .split('\n')
            .slice(0, 12)
            .join('\n        ')}`,
        );
      }
    }
  }
}
if (files.length === 0) {
  console.log('No test results were written.');
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || unsuccessful > 0 ? 1 : 0);
