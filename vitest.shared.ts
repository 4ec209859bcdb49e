import { basename, resolve } from 'node:path';
import { configDefaults, defineConfig, type ViteUserConfig } from 'vitest/config';

const root = import.meta.dirname;

/** A test layer: `unit` (test/unit, no network, no emulator) or `integration` (every other test file). */
export type TestLayer = 'unit' | 'integration';

/**
 * Where the vitest JSON report of the package in `dir` goes: `<repo>/.test-results/<folder name>.json`,
 * or `<folder name>.<layer>.json` for one layer's run.
 */
export function testResultsFile(dir: string, layer?: TestLayer): string {
  return resolve(root, '.test-results', `${basename(dir)}${layer ? `.${layer}` : ''}.json`);
}

type TestOptions = NonNullable<ViteUserConfig['test']>;

/** `vitest run --mode unit|integration` selects a layer; any other mode runs every test file. */
function layerOf(mode: string): TestLayer | undefined {
  return mode === 'unit' || mode === 'integration' ? mode : undefined;
}

/**
 * The vitest config of one workspace package. `test/unit` never touches the network;
 * `test/integration` talks to the local AWS emulator (tools/local-aws) over HTTP.
 * Each package runs on its own (`vitest run` in its folder, as turbo does); the root
 * vitest.config.ts lists them all as projects for editors and one-off runs.
 * `--mode unit` runs test/unit only, `--mode integration` every other file. Every test/unit file
 * runs under test/setup/unit.ts, which refuses non-loopback connections and child processes.
 */
export function packageProject(dir: string, overrides: TestOptions = {}) {
  return defineConfig(({ mode }) => {
    const layer = layerOf(mode);
    const exclude = [...(overrides.exclude ?? configDefaults.exclude)];
    if (layer === 'integration') exclude.push('test/unit/**');
    return {
      test: {
        name: basename(dir),
        root: dir,
        include: layer === 'unit' ? ['test/unit/**/*.test.ts'] : ['test/**/*.test.ts'],
        environment: 'node',
        setupFiles: [resolve(root, 'test/setup/setup.ts'), resolve(root, 'test/setup/unit.ts')],
        testTimeout: 60_000,
        hookTimeout: 60_000,
        // vitest runs cores - 1 files at a time: one, on the 2-core machine the suite is budgeted on.
        // Integration files mostly wait (on the emulator, on Describe lags, deadlines and child
        // processes), so two run at a time; unit files are CPU-bound and keep the default (ADR 0096).
        ...(layer === 'unit' ? {} : { maxWorkers: 2 }),
        restoreMocks: true,
        // The JSON report is summed by scripts/test-summary.mjs into one closing line. It goes to the
        // repo root's .test-results/ (turbo caches it as the test task's output) and never into a
        // package folder, where another task's inputs could pick it up.
        reporters: ['default', ['json', { outputFile: testResultsFile(dir, layer) }]],
        ...overrides,
        exclude,
      },
    } satisfies ViteUserConfig;
  });
}
