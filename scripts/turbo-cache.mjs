// Proves the turbo cache keys with turbo itself (`turbo run ... --dry=json`), not by reading turbo.json.
//
//   node scripts/turbo-cache.mjs probe [file...]
//     Copies the repo (tracked and untracked, not ignored files) into a scratch folder, asks turbo for
//     every task's hash, then for each probe edits one file there and asks again: the tasks whose hash
//     changed are the tasks that edit re-runs. Each probe states the tasks that must (and must not)
//     re-run. A last probe writes every file a task produces (its outputs, its turbo log, bytecode,
//     fixture bundles, the legacy test report) and checks that no hash moves: nothing a task writes
//     is another task's input.
//
//   node scripts/turbo-cache.mjs probe --if-changed
//     The same, only when the turbo or package configuration changed since the last probe that passed
//     in this clone, in CI, or when NETKIT_TURBO_PROBE=1 asks (scripts/turbo-probe-gate.ts, ADR 0095).
//
//   node scripts/turbo-cache.mjs assert-cached <task>... [turbo flags]
//     After a run: asks turbo, in this repo, what running the same tasks again would do, and fails
//     unless every task would be replayed from the cache (the next run is FULL TURBO).
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { scratchCheckout } from '../test/src/checkout.ts';
import { gateProbe } from './turbo-probe-gate.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TURBO = join(ROOT, 'node_modules', '.bin', 'turbo');
const TASKS = ['build', 'typecheck', 'test', 'test:unit', 'test:integration', 'test:timing', 'lint'];
const BEHAVIOURS = ['eip-associator', 'endpoint-lease', 'eni-attach', 'eni-pool-agent', 'nat-reaper'];
const id = (pkg, task) => `@netkit/${pkg}#${task}`;
/** The one typecheck program over every package but tools/build (ADR 0093). */
const TYPECHECK = id('conventions', 'typecheck');
/** A package's two test layers (its `test` runs both). */
const LAYERS = ['test:unit', 'test:integration'];
const isTestTask = (t) => /#test(:unit|:integration)?$/.test(t);
const TOOLS_ON_BUNDLES = [id('bench', 'test'), id('bench', 'test:timing'), id('demo', 'test')];

/**
 * Each probe edits `file` and names the tasks it re-runs: `exactly` (nothing else may re-run) or
 * `includes` plus `excludes` (a task id, or a predicate over task ids).
 */
const PROBES = [
  {
    // Package integration tests and the demo run each function under its template's policy (ADR 0080).
    file: 'infra/eip-associator/template.yaml',
    exactly: [id('infra', 'test'), id('eip-associator', 'test:integration'), id('demo', 'test')],
  },
  {
    file: 'infra/eni-attach/template.yaml',
    exactly: [
      id('infra', 'test'),
      id('eni-attach', 'test:integration'),
      id('eip-associator', 'test:integration'),
      id('demo', 'test'),
    ],
  },
  { file: 'infra/examples/eip-associator.yaml', exactly: [id('infra', 'test')] },
  // infra's tests check each package README's IAM section against its template.
  { file: 'packages/eni-pool-agent/README.md', exactly: [id('infra', 'test')] },
  {
    file: 'packages/eip-associator/src/config.ts',
    exactly: [
      ...['build', ...LAYERS].map((t) => id('eip-associator', t)),
      ...TOOLS_ON_BUNDLES,
      id('fuzz', 'test'),
      TYPECHECK,
      id('conventions', 'test'),
      // The release and deploy tests pack and deploy the bundles.
      id('infra', 'test'),
    ],
  },
  {
    // The house-style check reads every package's src/, build.mjs and test/unit/.
    file: 'packages/nat-reaper/test/unit/config.test.ts',
    exactly: [TYPECHECK, id('nat-reaper', 'test:unit'), id('conventions', 'test')],
  },
  {
    // tools/conventions tests when scripts/test.sh runs the probe (ADR 0095).
    file: 'scripts/turbo-probe-gate.ts',
    exactly: [TYPECHECK, id('conventions', 'test')],
  },
  {
    // An integration test re-runs its package's integration layer, not its unit layer.
    file: 'packages/nat-reaper/test/integration/reaper.test.ts',
    exactly: [TYPECHECK, id('nat-reaper', 'test:integration'), id('conventions', 'test')],
  },
  // The one typecheck program covers the tools and infra too.
  { file: 'tsconfig.typecheck.json', exactly: [TYPECHECK] },
  { file: 'infra/src/deploy.ts', includes: [TYPECHECK, id('infra', 'test')] },
  {
    file: 'packages/eip-associator/demo/scenario.ts',
    exactly: [TYPECHECK, ...LAYERS.map((t) => id('eip-associator', t)), id('demo', 'test')],
  },
  {
    file: 'packages/eni-pool-agent/bench/burst.ts',
    exactly: [TYPECHECK, ...LAYERS.map((t) => id('eni-pool-agent', t))],
  },
  {
    file: 'packages/eni-pool-agent/test/support/world.ts',
    exactly: [TYPECHECK, ...LAYERS.map((t) => id('eni-pool-agent', t)), id('demo', 'test')],
  },
  {
    file: 'packages/aws-core/src/config.ts',
    includes: [
      TYPECHECK,
      ...LAYERS.map((t) => id('aws-core', t)),
      ...BEHAVIOURS.flatMap((p) => ['build', ...LAYERS].map((t) => id(p, t))),
      ...TOOLS_ON_BUNDLES,
      id('infra', 'test'),
    ],
    excludes: [id('local-aws', 'test'), id('build', 'test')],
  },
  {
    file: 'tools/build/index.mjs',
    includes: [
      id('build', 'test'),
      ...BEHAVIOURS.map((p) => id(p, 'build')),
      ...TOOLS_ON_BUNDLES,
      id('infra', 'test'),
    ],
    excludes: [id('local-aws', 'test')],
  },
  {
    file: 'tools/local-aws/server/netkit_moto.py',
    includes: [
      id('local-aws', 'test'),
      id('infra', 'test'),
      id('aws-core', 'test:integration'),
      ...BEHAVIOURS.map((p) => id(p, 'test:integration')),
      ...TOOLS_ON_BUNDLES,
    ],
    // Its dependents' builds re-run too (local-aws is a devDependency); tools/build does not use it.
    excludes: [id('build', 'test'), id('build', 'typecheck')],
  },
  {
    file: 'requirements-dev.txt',
    // The Python tools (moto, cfn-lint) serve every test task but the unit layer and the house-style
    // check, which reads source text only.
    includes: (all) => all.filter((t) => /#test(:integration)?$/.test(t) && t !== '@netkit/conventions#test'),
    excludes: (t) => !/#test(:integration)?$/.test(t) || t === '@netkit/conventions#test',
  },
  {
    file: 'test/setup/setup.ts',
    // Every vitest project loads it; the packages that depend on @netkit/testing rebuild too.
    includes: (all) => all.filter(isTestTask),
    excludes: [id('build', 'typecheck')],
  },
  {
    file: 'test/src/index.ts',
    includes: [
      ...LAYERS.map((t) => id('aws-core', t)),
      id('infra', 'test'),
      id('local-aws', 'test'),
      ...BEHAVIOURS.flatMap((p) => LAYERS.map((t) => id(p, t))),
    ],
    excludes: [id('build', 'test'), id('build', 'typecheck')],
  },
  {
    file: 'test/events/autoscaling/launch.json',
    includes: BEHAVIOURS.filter((p) => p !== 'nat-reaper' && p !== 'endpoint-lease').flatMap((p) =>
      LAYERS.map((t) => id(p, t)),
    ),
    excludes: [id('build', 'test'), id('build', 'typecheck')],
  },
];

/** Files tasks write besides their declared outputs and turbo logs (see .gitignore). */
const SIDE_PRODUCTS = [
  'tools/local-aws/server/__pycache__/netkit_moto.cpython-311.pyc',
  'tools/local-aws/server/__pycache__/netkit_state.cpython-311.pyc',
  'infra/scripts/__pycache__/sam_translate.cpython-311.pyc',
  'infra/.aws-sam/build/template.yaml',
  'tools/demo/test/fixtures/repo/packages/pass/dist/index.mjs',
  'tools/demo/test/fixtures/other-repo/packages/hang/dist/index.mjs',
  'tools/bench/test/fixtures/repo/packages/tiny/dist/index.mjs',
  'tools/local-aws/.test-results.json',
  'infra/.test-results.json',
  'packages/eip-associator/.test-results.json',
  'node_modules/.vite/vitest/results.json',
];

/** turbo run <tasks> --dry=json in `cwd`: the tasks that have a command, by id. */
function dryRun(cwd, tasks, extra = []) {
  const out = execFileSync(TURBO, ['run', ...tasks, '--dry=json', ...extra], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TURBO_TELEMETRY_DISABLED: '1',
      TURBO_NO_UPDATE_NOTIFIER: '1',
      TURBO_PRINT_VERSION_DISABLED: '1',
    },
  });
  const json = JSON.parse(out.slice(out.indexOf('{')));
  return new Map(json.tasks.filter((t) => t.command !== '<NONEXISTENT>').map((t) => [t.taskId, t]));
}

function changed(before, after) {
  const ids = new Set([...before.keys(), ...after.keys()]);
  return [...ids].filter((t) => before.get(t)?.hash !== after.get(t)?.hash).sort();
}

function comment(file) {
  const ext = extname(file);
  if (ext === '.json') return null;
  return ['.ts', '.mjs', '.cjs', '.js'].includes(ext) ? '\n// cache probe\n' : '\n# cache probe\n';
}

function edit(dir, file) {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`probe file ${file} does not exist`);
  const line = comment(file);
  if (line === null) {
    // JSON: rewrite with one more key at the top level.
    const json = JSON.parse(execFileSync('cat', [path], { encoding: 'utf8' }));
    writeFileSync(path, `${JSON.stringify({ ...json, cacheProbe: true }, null, 2)}\n`);
  } else appendFileSync(path, line);
}

/** A path matching a turbo output glob of the task in `pkgDir` (relative to the repo). */
function outputPath(pkgDir, glob) {
  const concrete = glob.replaceAll('**', 'probe').replaceAll('*', 'probe');
  return concrete.startsWith('$TURBO_ROOT$/')
    ? concrete.slice('$TURBO_ROOT$/'.length)
    : join(pkgDir, concrete);
}

function scratchCopy() {
  return scratchCheckout('netkit-turbo-probe-', ROOT).dir;
}

function check(probe, all, hit) {
  const problems = [];
  if (probe.exactly) {
    const want = [...probe.exactly].sort();
    for (const t of want) if (!hit.includes(t)) problems.push(`does not re-run ${t}`);
    for (const t of hit) if (!want.includes(t)) problems.push(`also re-runs ${t}`);
  }
  if (probe.includes) {
    const want = typeof probe.includes === 'function' ? probe.includes(all) : probe.includes;
    for (const t of want) if (!all.includes(t)) problems.push(`expected task ${t} is not in the task graph`);
    for (const t of want) if (!hit.includes(t)) problems.push(`does not re-run ${t}`);
  }
  if (probe.excludes) {
    const bad =
      typeof probe.excludes === 'function'
        ? hit.filter(probe.excludes)
        : hit.filter((t) => probe.excludes.includes(t));
    for (const t of bad) problems.push(`must not re-run ${t}`);
  }
  return problems;
}

function probe(only) {
  const probes = only.length ? PROBES.filter((p) => only.includes(p.file)) : PROBES;
  const dir = scratchCopy();
  let failures = 0;
  try {
    const base = dryRun(dir, TASKS);
    const all = [...base.keys()].sort();
    if (all.length === 0) throw new Error('turbo planned no task');
    for (const p of probes) {
      const original = execFileSync('cat', [join(dir, p.file)]);
      edit(dir, p.file);
      const hit = changed(base, dryRun(dir, TASKS));
      writeFileSync(join(dir, p.file), original);
      const problems = check(p, all, hit);
      failures += problems.length > 0 ? 1 : 0;
      console.log(
        `${problems.length ? '✗' : '✓'} edit ${p.file} re-runs ${hit.length ? hit.join(', ') : 'nothing'}`,
      );
      for (const problem of problems) console.log(`    ${problem}`);
    }
    // Everything tasks write, written at once: no hash may move.
    const written = new Set(SIDE_PRODUCTS);
    for (const task of base.values()) {
      written.add(task.logFile);
      for (const glob of task.outputs ?? []) written.add(outputPath(task.directory, glob));
    }
    for (const file of written) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), `written by a task ${Date.now()}\n`);
    }
    const moved = changed(base, dryRun(dir, TASKS));
    failures += moved.length > 0 ? 1 : 0;
    console.log(
      `${moved.length ? '✗' : '✓'} writing every task's outputs and logs (${written.size} files) re-runs ${moved.length ? moved.join(', ') : 'nothing'}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    failures
      ? `turbo cache keys: ${failures} probe(s) failed`
      : `turbo cache keys: all ${probes.length + 1} probes hold`,
  );
  return failures === 0;
}

function assertCached(args) {
  const tasks = args.filter((a) => !a.startsWith('-'));
  const flags = args.filter((a) => a.startsWith('-'));
  const planned = dryRun(ROOT, tasks.length ? tasks : TASKS.slice(0, 3), flags);
  const missed = [...planned.values()].filter((t) => t.cache.status !== 'HIT');
  for (const t of missed) console.log(`  not cached: ${t.taskId} (hash ${t.hash})`);
  console.log(
    `turbo cache: ${planned.size - missed.length}/${planned.size} tasks would replay from the cache`,
  );
  return missed.length === 0;
}

const [command, ...rest] = process.argv.slice(2);
if (!existsSync(TURBO)) {
  console.error(`turbo is not installed (${TURBO}); run bash scripts/bootstrap.sh`);
  process.exit(2);
}
if (command === 'probe' && rest.includes('--if-changed')) {
  const result = gateProbe(ROOT, process.env, () => probe(rest.filter((a) => a !== '--if-changed')));
  if (!result.run)
    console.log(`turbo cache keys: probe skipped: ${result.reason} (NETKIT_TURBO_PROBE=1 runs it)`);
  else console.log(`turbo cache keys: probed because ${result.reason}`);
  process.exit(result.passed ? 0 : 1);
} else if (command === 'probe') process.exit(probe(rest) ? 0 : 1);
else if (command === 'assert-cached') process.exit(assertCached(rest) ? 0 : 1);
else {
  console.error('usage: node scripts/turbo-cache.mjs probe | assert-cached <task>... [turbo flags]');
  process.exit(2);
}
