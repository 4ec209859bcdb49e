import { basename, resolve } from 'node:path';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const root = import.meta.dirname;

/**
 * One vitest project per workspace package. `test/unit` never touches the network;
 * `test/integration` talks to the local AWS emulator (tools/local-aws) over HTTP.
 */
export function packageProject(
  dir: string,
  overrides: UserWorkspaceConfig['test'] = {},
): UserWorkspaceConfig {
  return defineProject({
    test: {
      name: basename(dir),
      root: dir,
      include: ['test/**/*.test.ts'],
      environment: 'node',
      setupFiles: [resolve(root, 'test/setup/setup.ts')],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      restoreMocks: true,
      // The JSON report is summed by scripts/test-summary.mjs into one closing line.
      reporters: ['default', ['json', { outputFile: resolve(dir, '.test-results.json') }]],
      ...overrides,
    },
  });
}
