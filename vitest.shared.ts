import { basename, resolve } from 'node:path';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const root = import.meta.dirname;

/** Where the vitest JSON report of the package in `dir` goes: `<repo>/.test-results/<folder name>.json`. */
export function testResultsFile(dir: string): string {
  return resolve(root, '.test-results', `${basename(dir)}.json`);
}

type TestOptions = NonNullable<ViteUserConfig['test']>;

/**
 * The vitest config of one workspace package. `test/unit` never touches the network;
 * `test/integration` talks to the local AWS emulator (tools/local-aws) over HTTP.
 * Each package runs on its own (`vitest run` in its folder, as turbo does); the root
 * vitest.config.ts lists them all as projects for editors and one-off runs.
 */
export function packageProject(dir: string, overrides: TestOptions = {}): ViteUserConfig {
  return defineConfig({
    test: {
      name: basename(dir),
      root: dir,
      include: ['test/**/*.test.ts'],
      environment: 'node',
      setupFiles: [resolve(root, 'test/setup/setup.ts')],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      restoreMocks: true,
      // The JSON report is summed by scripts/test-summary.mjs into one closing line. It goes to the
      // repo root's .test-results/ (turbo caches it as the test task's output) and never into a
      // package folder, where another task's inputs could pick it up.
      reporters: ['default', ['json', { outputFile: testResultsFile(dir) }]],
      ...overrides,
    },
  });
}
