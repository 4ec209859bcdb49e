// The Release workflow's publish path, run as GitHub runs it, twice: each run is a fresh clone of
// the origin at the released commit (a re-run checks out again and fetches the tags), then
// infra/scripts/release-tag.sh (the changesets/action publish script; its "New tag:" lines decide
// `published`), then infra/scripts/release-publish.sh with those packages. A failure is injected
// between tagging and the finished GitHub release; the second run must finish the release, and a
// third run must find nothing to release. Real git (a bare origin), real pnpm running the
// repository's scripts; `gh` is a local stand-in keeping releases in a folder, because GitHub is
// not reachable (it behaves as gh 2.x does: `release create` with files makes a draft, uploads,
// then publishes; `--verify-tag` refuses a tag the remote does not have).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INFRA_DIR } from '../src/tools.ts';

const FAKE_GH = `#!/usr/bin/env bash
set -euo pipefail
state="$GH_STATE"
[ "$1" = release ] || { echo "gh stand-in: only 'release'" >&2; exit 2; }
cmd=$2; tag=$3; shift 3
dir="$state/releases/$(printf %s "$tag" | tr '/@' '__')"
case "$cmd" in
  view)
    [ -d "$dir" ] || { echo "release not found" >&2; exit 1; }
    [ "$*" = "--json isDraft --jq .isDraft" ] || { echo "gh stand-in: view $*" >&2; exit 2; }
    if [ -f "$dir/draft" ]; then echo true; else echo false; fi ;;
  create)
    git ls-remote --exit-code --tags origin "refs/tags/$tag" >/dev/null || { echo "tag $tag not on the remote" >&2; exit 1; }
    [ ! -d "$dir" ] || { echo "a release with the same tag name already exists: $tag" >&2; exit 1; }
    mkdir -p "$dir/assets"; touch "$dir/draft"
    for f in "$@"; do
      case "$f" in --*) break ;; esac
      if [ -f "$state/fail-upload" ]; then rm "$state/fail-upload"; echo "upload of $f failed (injected)" >&2; exit 1; fi
      cp "$f" "$dir/assets/"
    done
    rm "$dir/draft" ;;
  upload)
    [ -d "$dir" ] || { echo "release not found" >&2; exit 1; }
    for f in "$@"; do case "$f" in --*) ;; *) cp "$f" "$dir/assets/" ;; esac; done ;;
  edit)
    [ "$*" = "--draft=false" ] || { echo "gh stand-in: edit $*" >&2; exit 2; }
    rm -f "$dir/draft" ;;
  *) echo "gh stand-in: release $cmd" >&2; exit 2 ;;
esac
`;

/** release:pack's files for each named package; fails once when the fail-pack marker exists. */
const FAKE_PACK = `import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
const marker = process.env.GH_STATE + '/fail-pack';
if (existsSync(marker)) { rmSync(marker); console.error('release:pack failed (injected)'); process.exit(1); }
mkdirSync('release', { recursive: true });
for (const name of process.argv.slice(2)) {
  const { version } = JSON.parse(readFileSync('packages/' + name + '/package.json', 'utf8'));
  for (const f of [name + '-' + version + '.zip', name + '-' + version + '.template.yaml', name + '-cli-' + version + '.zip'])
    writeFileSync('release/' + f, f);
}
`;

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'release',
  GIT_AUTHOR_EMAIL: 'release@localhost',
  GIT_COMMITTER_NAME: 'release',
  GIT_COMMITTER_EMAIL: 'release@localhost',
};

let root = '';
afterEach(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
  root = '';
});

/** A repository with one deployable package at 0.2.0 and a library, pushed to a bare origin. */
function world(): { env: NodeJS.ProcessEnv; origin: string; state: string } {
  root = mkdtempSync(join(tmpdir(), 'netkit-release-flow-'));
  const origin = join(root, 'origin.git');
  const src = join(root, 'src');
  const state = join(root, 'gh');
  const bin = join(root, 'bin');
  mkdirSync(join(state, 'releases'), { recursive: true });
  mkdirSync(bin);
  writeFileSync(join(bin, 'gh'), FAKE_GH);
  chmodSync(join(bin, 'gh'), 0o755);
  const env = { ...process.env, ...GIT_ENV, GH_STATE: state, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  mkdirSync(join(src, 'infra', 'scripts'), { recursive: true });
  for (const s of ['release-tag.sh', 'release-publish.sh'])
    cpSync(join(INFRA_DIR, 'scripts', s), join(src, 'infra', 'scripts', s));
  mkdirSync(join(src, 'infra', 'nat-reaper'));
  writeFileSync(join(src, 'infra', 'nat-reaper', 'template.yaml'), 'Resources: {}\n');
  for (const [pkg, deployable] of [
    ['nat-reaper', true],
    ['aws-core', false],
  ] as const) {
    mkdirSync(join(src, 'packages', pkg), { recursive: true });
    writeFileSync(
      join(src, 'packages', pkg, 'package.json'),
      JSON.stringify({ name: `@netkit/${pkg}`, version: '0.2.0' }),
    );
    if (deployable) writeFileSync(join(src, 'packages', pkg, 'build.mjs'), '');
  }
  writeFileSync(
    join(src, 'packages', 'nat-reaper', 'CHANGELOG.md'),
    '# @netkit/nat-reaper\n\n## 0.2.0\n\n- a fix\n',
  );
  writeFileSync(
    join(src, 'package.json'),
    JSON.stringify({ private: true, scripts: { 'release:pack': 'node pack.mjs' } }),
  );
  writeFileSync(join(src, 'pack.mjs'), FAKE_PACK);
  execFileSync('git', ['init', '-q', '--bare', '--initial-branch=main', origin]);
  for (const args of [
    ['init', '-q'],
    ['add', '-A'],
    ['commit', '-qm', 'v'],
    ['push', '-q', origin, 'HEAD:refs/heads/main'],
  ])
    execFileSync('git', args, { cwd: src, env });
  return { env, origin, state };
}

interface RunResult {
  published: string[];
  publishStatus: number | null;
  output: string;
}

/** One workflow run: fresh clone with tags, the tag script, then the publish script when published. */
function workflowRun(w: ReturnType<typeof world>, n: number): RunResult {
  const work = join(root, `run-${n}`);
  execFileSync('git', ['clone', '-q', w.origin, work], { env: w.env });
  const tag = spawnSync('bash', ['infra/scripts/release-tag.sh'], {
    cwd: work,
    env: w.env,
    encoding: 'utf8',
  });
  expect(tag.status, tag.stderr).toBe(0);
  // changesets/action reads "New tag:" lines for publishedPackages, then pushes the tags.
  const published = [...tag.stdout.matchAll(/New tag:\s+@netkit\/([^@\s]+)@(\S+)/g)].map(
    (m) => m[1] as string,
  );
  execFileSync('git', ['push', '-q', 'origin', '--tags'], { cwd: work, env: w.env });
  if (published.length === 0) return { published, publishStatus: null, output: tag.stdout };
  const r = spawnSync('bash', ['infra/scripts/release-publish.sh', ...published], {
    cwd: work,
    env: w.env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { published, publishStatus: r.status, output: `${tag.stdout}${r.stdout}${r.stderr}` };
}

function release(state: string): { draft: boolean; assets: string[] } | undefined {
  const dir = join(state, 'releases', '_netkit_nat-reaper_0.2.0');
  if (!existsSync(dir)) return undefined;
  return { draft: existsSync(join(dir, 'draft')), assets: readdirSync(join(dir, 'assets')).sort() };
}

const ASSETS = ['nat-reaper-0.2.0.template.yaml', 'nat-reaper-0.2.0.zip', 'nat-reaper-cli-0.2.0.zip'];

describe('the release publish path', () => {
  it.each([
    ['release:pack', 'fail-pack'],
    ['the GitHub release upload (a draft is left)', 'fail-upload'],
  ])('a re-run after a failure of %s finishes the release', { timeout: 240_000 }, (_what, marker) => {
    const w = world();
    writeFileSync(join(w.state, marker), '');
    const first = workflowRun(w, 1);
    expect(first.published).toEqual(['nat-reaper']);
    expect(first.publishStatus, first.output).not.toBe(0);
    expect(release(w.state)?.draft ?? true).toBe(true);

    const second = workflowRun(w, 2);
    expect(second.published, second.output).toEqual(['nat-reaper']);
    expect(second.publishStatus, second.output).toBe(0);
    expect(release(w.state)).toEqual({ draft: false, assets: ASSETS });
    expect(execFileSync('git', ['ls-remote', '--tags', w.origin], { encoding: 'utf8' })).toContain(
      'refs/tags/@netkit/nat-reaper@0.2.0',
    );

    const third = workflowRun(w, 3);
    expect(third.published).toEqual([]);
  });

  it(
    'releases once on a clean run, never tags a library, and the next run publishes nothing',
    { timeout: 240_000 },
    () => {
      const w = world();
      const first = workflowRun(w, 1);
      expect(first.published).toEqual(['nat-reaper']);
      expect(first.publishStatus, first.output).toBe(0);
      expect(release(w.state)).toEqual({ draft: false, assets: ASSETS });
      expect(execFileSync('git', ['ls-remote', '--tags', w.origin], { encoding: 'utf8' })).not.toContain(
        'aws-core',
      );
      expect(workflowRun(w, 2).published).toEqual([]);
    },
  );
});
