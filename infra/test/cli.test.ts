// The repository's commands as an operator types them (`pnpm run <script>`): --help prints the usage
// and exits 0, an unknown argument exits 2, and neither calls AWS (every endpoint is a closed port
// and no region or credentials are set, so a call would fail the run). The package CLIs are checked
// the same way from their unzipped release zips (test/release.test.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/tools.ts';

const scripts = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const CLIS = Object.keys(scripts).filter((name) => /\binfra\/src\//.test(scripts[name] as string));

const env = {
  PATH: process.env['PATH'] ?? '',
  HOME: process.env['HOME'] ?? '',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
};

function pnpmRun(script: string, args: string[]) {
  return spawnSync('pnpm', ['run', '--silent', script, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
}

describe('the infra commands', () => {
  it('are deploy, doctor and release:pack', () => {
    expect(CLIS.sort()).toEqual(['deploy', 'doctor', 'release:pack']);
  });

  it.each(CLIS)('pnpm run %s --help prints the usage and exits 0', { timeout: 120_000 }, (script) => {
    const r = pnpmRun(script, ['--help']);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: pnpm run ${script.replace(':', '\\:')} `));
  });

  it.each(CLIS)('pnpm run %s with an unknown option exits 2 naming it', { timeout: 120_000 }, (script) => {
    const r = pnpmRun(script, ['--no-such-option']);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toContain('unknown option --no-such-option');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
  });
});
