// `pnpm bench [--only <name>] [--fast] [--jobs <n>]`: the cold-start benchmark plus every
// package benchmark (packages/<pkg>/bench/*.ts with a default-exported Benchmark).
// Prints each table, writes bench/results/<name>.json (+ .svg) and bench/results/README.md.
// Benchmarks that measure wall time (`export const exclusive = true`, and cold-start) run one at a
// time with nothing else running; the others run side by side on `--jobs` lanes (ADR 0071).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable } from '@netkit/demo/table';
import { bundledPackages, missingDists, REPO_ROOT } from './bundles.ts';
import { coldStartBenchmark } from './coldstart.ts';
import { type BenchEntry, DEFAULT_JOBS, discoverBenchmarks, runAll } from './entries.ts';
import {
  machine,
  readResults,
  renderReport,
  type StoredResult,
  validateResult,
  writeResult,
} from './report.ts';

// The pinned SDK runs on Node 20; its notice that later SDK releases will need Node 22 is noise here
// (Lambda runs nodejs22.x). Bundles create their clients when loaded, after this line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const USAGE = `Usage: pnpm bench [--only <name>] [--fast] [--jobs <n>] [--out <dir>]

  --only <name>   cold-start, a package (all its benchmarks) or <package>/<file> (e.g. nat-reaper/teardown)
  --fast          smaller runs (the test suite's settings)
  --jobs <n>      benchmarks that count calls and outcomes run side by side on n lanes (default 2;
                  1 runs everything one after another); wall-time benchmarks always run alone
  --out <dir>     results folder (default bench/results)
  --root <dir>    repository root to discover packages in (default: this repository)
  -h, --help      this text

Exit code: 0 when every benchmark ran (targets met or not: see the report), 1 when one failed to run, 2 on bad usage.`;

function select(all: BenchEntry[], only: string | undefined): BenchEntry[] {
  if (only === undefined) return all;
  const picked = all.filter((b) => b.id === only || b.package === only);
  if (picked.length === 0) {
    const names = [...new Set(all.flatMap((b) => (b.package ? [b.package, b.id] : [b.id])))];
    throw new UsageError(`Unknown --only "${only}". Valid names: ${names.join(', ')}.`);
  }
  return picked;
}

class UsageError extends Error {}

const write = (text: string): boolean => process.stdout.write(text);

/**
 * Runs one benchmark, stores its result under `out` and prints its tables in one piece when it
 * ends (benchmarks on other lanes print theirs in between); false when it failed.
 */
async function runEntry(entry: BenchEntry, fast: boolean, out: string): Promise<boolean> {
  write(`\n▶ ${entry.id}${fast ? ' (fast)' : ''}\n`);
  const measuredAt = new Date().toISOString();
  const onMachine = machine();
  const t0 = performance.now();
  try {
    const result = validateResult(await entry.run({ fast }), entry.source);
    const stored: StoredResult = {
      ...result,
      measuredAt,
      durationMs: Math.round(performance.now() - t0),
      fast,
      machine: onMachine,
      source: entry.source,
    };
    writeResult(out, stored);
    const lines = [`\n■ ${entry.id}: ${result.title}\n`];
    for (const table of result.tables) lines.push(`${formatTable(table.columns, table.rows)}\n`);
    for (const t of result.targets)
      lines.push(`  ${t.met ? '✔ met    ' : '✖ not met'}  ${t.description}: ${t.measured}`);
    lines.push(
      `  (${(stored.durationMs / 1000).toFixed(1)} s; ${relative(process.cwd(), join(out, `${result.name}.json`))})\n`,
    );
    write(`${lines.join('\n')}\n`);
    return true;
  } catch (error) {
    process.stderr.write(
      `bench: ${entry.id} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return false;
  }
}

/** Each benchmark's duration in its last stored run under `out`, by source file. */
function lastDurations(out: string): Map<string, number> {
  return new Map(readResults(out).map((r) => [r.source, r.durationMs]));
}

interface CliValues {
  only?: string;
  fast?: boolean;
  jobs?: string;
  out?: string;
  root?: string;
  help?: boolean;
}

/** The command line's flags, or undefined (usage printed) when it does not parse. */
function readArgs(argv: string[]): CliValues | undefined {
  try {
    return parseArgs({
      args: argv,
      options: {
        only: { type: 'string' },
        fast: { type: 'boolean' },
        jobs: { type: 'string' },
        out: { type: 'string' },
        root: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}\n`);
    return undefined;
  }
}

export async function main(argv: string[]): Promise<number> {
  const values = readArgs(argv);
  if (values === undefined) return 2;
  if (values.help) {
    write(`${USAGE}\n`);
    return 0;
  }
  const root = values.root === undefined ? REPO_ROOT : resolve(values.root);
  const out = values.out === undefined ? join(REPO_ROOT, 'bench', 'results') : resolve(values.out);
  const fast = values.fast === true;
  const jobs = values.jobs === undefined ? DEFAULT_JOBS : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    process.stderr.write(`bench: --jobs must be a whole number >= 1, got "${values.jobs}"\n\n${USAGE}\n`);
    return 2;
  }

  const coldStart: BenchEntry = {
    id: 'cold-start',
    source: 'tools/bench/src/coldstart.ts',
    exclusive: true,
    run: (options) =>
      coldStartBenchmark({ ...options, root, onProgress: (m) => process.stderr.write(`  … ${m}\n`) }),
  };
  let selected: BenchEntry[];
  try {
    selected = select([coldStart, ...(await discoverBenchmarks(root))], values.only);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
    return 2;
  }
  if (selected.includes(coldStart)) {
    const missing = missingDists(root, bundledPackages(root));
    if (missing.length > 0) {
      process.stderr.write(
        `bench: no built bundle for ${missing.join(', ')} (packages/<name>/dist). Run \`pnpm build\` first (\`pnpm bench\` builds before it runs).\n`,
      );
      return 1;
    }
  }

  const started = performance.now();
  const failures = await runAll(selected, jobs, (entry) => runEntry(entry, fast, out), lastDurations(out));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'README.md'), renderReport(readResults(out)));
  const total = ((performance.now() - started) / 1000).toFixed(1);
  write(
    `\n${selected.length - failures}/${selected.length} benchmarks ran in ${total} s; report: ${relative(process.cwd(), join(out, 'README.md'))}\n`,
  );
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
// Benchmarks may leave emulator sockets or keep-alive agents behind; the run is over.
process.exit();
