import { resolve } from 'node:path';
import { packageProject } from '../../vitest.shared.ts';

/**
 * Tests whose verdict depends on how fast a fresh node process starts. They run in their own
 * turbo task, `test:timing`, which scripts/test.sh (and `pnpm test`) start only after every other
 * test task has finished: on a 2-core machine, emulator bursts running beside them made a 3x
 * bundle measure 25x. The files run one after another for the same reason.
 */
export const TIMING_TESTS = ['test/budget.test.ts', 'test/coldstart.test.ts', 'test/cli.test.ts'];

const root = resolve(import.meta.dirname, '..', '..');

export default packageProject(import.meta.dirname, {
  include: TIMING_TESTS,
  fileParallelism: false,
  reporters: ['default', ['json', { outputFile: resolve(root, '.test-results', 'bench-timing.json') }]],
});
