// `pnpm demo [--only <package>] [--json] [--fast]`: every package's scenario
// against the local AWS emulator, through the built bundles.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '@netkit/local-aws';
import { REPO_ROOT } from './discover.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { DemoSetupError, runDemo, summaryTable } from './runner.ts';

// The pinned SDK runs on Node 20; its notice that later SDK releases will need Node 22 is noise here
// (Lambda runs nodejs22.x). Bundles create their clients when loaded, after this line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const USAGE = `Usage: pnpm demo [--only <package>] [--json] [--fast] [--verbose] [--timeout <seconds>]

Runs each package's demo scenario (packages/<name>/demo/scenario.ts) against the local
AWS emulator (moto), through the built bundles in packages/<name>/dist.

  --only <package>     run one scenario (e.g. eip-associator)
  --json               print machine-readable results only (progress goes to stderr)
  --fast               test-suite settings: shorter delays, smaller fleets
  --verbose            show the bundles' own log output as it happens
  --timeout <seconds>  time limit per scenario (default 600, 180 with --fast)
  --root <dir>         repository root to discover packages in (default: this repository)
  -h, --help           this text

Exit code: 0 when every scenario passes, 1 when one fails or cannot run, 2 on bad usage.`;

// Captured before any scenario can patch them.
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);

function fail(message: string, code: number, json: boolean): number {
  if (json) writeOut(`${JSON.stringify({ ok: false, error: message })}\n`);
  writeErr(`demo: ${message}\n`);
  return code;
}

interface CliValues {
  only?: string | undefined;
  json?: boolean | undefined;
  fast?: boolean | undefined;
  verbose?: boolean | undefined;
  timeout?: string | undefined;
  root?: string | undefined;
  help?: boolean | undefined;
}

function readArgs(argv: string[]): CliValues {
  return parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      json: { type: 'boolean' },
      fast: { type: 'boolean' },
      verbose: { type: 'boolean' },
      timeout: { type: 'string' },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  let values: CliValues;
  try {
    values = readArgs(argv);
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`, 2, json);
  }
  if (values.help) {
    writeOut(`${USAGE}\n`);
    return 0;
  }
  const fast = values.fast === true;
  let timeoutMs = (fast ? 180 : 600) * 1000;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      return fail(`--timeout must be a positive number of seconds, got "${values.timeout}"`, 2, json);
    }
    timeoutMs = seconds * 1000;
  }
  const sink: ProgressSink = json
    ? { write: (t) => writeErr(t), isTTY: false }
    : { write: (t) => writeOut(t), isTTY: process.stdout.isTTY === true };
  const progress = new Progress(sink);
  try {
    const report = await runDemo({
      root: values.root === undefined ? REPO_ROOT : resolve(values.root),
      only: values.only,
      fast,
      timeoutMs,
      progress,
      verbose: values.verbose === true,
      startEmulator: () => startEmulator(),
    });
    if (json) writeOut(`${JSON.stringify(report, null, 2)}\n`);
    else writeOut(`\n${summaryTable(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof DemoSetupError) return fail(error.message, error.exitCode, json);
    return fail(error instanceof Error ? (error.stack ?? error.message) : String(error), 1, json);
  }
}

// Ctrl-C: let local-aws's exit hook stop moto, and say so.
process.once('SIGINT', () => {
  writeErr('\ndemo: interrupted\n');
  process.exit(130);
});

process.exitCode = await main(process.argv.slice(2));
// Scenarios may leave sockets or timers behind (keep-alive agents); the demo is done.
process.exit();
