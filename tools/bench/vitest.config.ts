import { packageProject } from '../../vitest.shared.ts';
import { TIMING_TESTS } from './vitest.timing.config.ts';

// The timing tests (cold-start bound, the CLI's cold-start run) run on their own after every
// other test task, in `test:timing`: see vitest.timing.config.ts.
export default packageProject(import.meta.dirname, {
  exclude: ['**/node_modules/**', ...TIMING_TESTS],
});
