import { pathToFileURL } from 'node:url';
import type { Emulator, Refusal } from '@netkit/local-aws';
import { discoverScenarios, hasDist, type ScenarioEntry } from './discover.ts';
import type { Progress } from './progress.ts';
import { importBundle, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario.ts';
import { formatDuration, formatTable } from './table.ts';

/** The install command the emulator needs (same text as @netkit/local-aws's MOTO_INSTALL_COMMAND). */
export const MOTO_INSTALL = "pip install 'moto[server]==5.2.1'";

/** A problem with the command line or the machine, found before any scenario runs. */
export class DemoSetupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'DemoSetupError';
  }
}

export type ScenarioStatus = 'pass' | 'fail' | 'error';

export interface ScenarioReport {
  name: string;
  title: string;
  status: ScenarioStatus;
  ok: boolean;
  summary: string;
  /** Set when the scenario threw, timed out or returned something that is not a ScenarioResult. */
  error?: string;
  /** AWS API calls the emulator served during the scenario (setup included). */
  awsCalls: number;
  callsByAction: Record<string, number>;
  /** Calls answered with a throttling error, per action (only when any). */
  throttled?: Record<string, number>;
  durationMs: number;
  details?: Record<string, unknown>;
  /** Last lines the bundles and the scenario printed (kept for failures). */
  logTail?: string[];
}

export interface DemoReport {
  ok: boolean;
  fast: boolean;
  startedAt: string;
  durationMs: number;
  region: string;
  scenarios: ScenarioReport[];
}

export interface DemoOptions {
  root: string;
  only?: string | undefined;
  fast: boolean;
  /** Per-scenario time limit. */
  timeoutMs: number;
  progress: Progress;
  startEmulator: () => Promise<Emulator>;
  /** Show the bundles' own output (Powertools logs) live instead of only on failure. */
  verbose?: boolean;
}

const LOG_TAIL_LINES = 40;

/** Environment the bundles get before the emulator's and the scenario's own. */
const BUNDLE_DEFAULT_ENV: Record<string, string> = {
  // No X-Ray daemon here: the Tracer would only complain about missing segments.
  POWERTOOLS_TRACE_ENABLED: 'false',
  POWERTOOLS_SERVICE_NAME: 'netkit-demo',
};

/** Scenarios to run: all discovered, or the one `--only` names. Throws DemoSetupError on a bad name. */
export function selectScenarios(root: string, only: string | undefined): ScenarioEntry[] {
  const all = discoverScenarios(root);
  if (all.length === 0) {
    throw new DemoSetupError(`No demo scenarios found (looked for ${root}/packages/*/demo/scenario.ts).`, 2);
  }
  if (only === undefined) return all;
  const picked = all.filter((s) => s.name === only);
  if (picked.length === 0) {
    throw new DemoSetupError(
      `Unknown --only "${only}". Valid names: ${all.map((s) => s.name).join(', ')}.`,
      2,
    );
  }
  return picked;
}

/** Fails when a selected package has no built bundle: the demo runs the same artifacts that deploy. */
export function checkDists(entries: readonly ScenarioEntry[]): void {
  const missing = entries.filter((e) => !hasDist(e.distDir));
  if (missing.length > 0) {
    throw new DemoSetupError(
      `No built bundle for ${missing.map((e) => e.name).join(', ')} (missing ${missing
        .map((e) => e.distDir)
        .join(', ')}). Run \`pnpm build\` first (\`pnpm demo\` builds before it runs).`,
      1,
    );
  }
}

function isScenario(value: unknown): value is Scenario {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['run'] === 'function' && typeof v['name'] === 'string';
}

function isResult(value: unknown): value is ScenarioResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['ok'] === 'boolean' && typeof v['summary'] === 'string';
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Route process.stdout/stderr writes (bundle logs) into `sink` until the returned restore is called. */
function captureStdio(sink: (text: string) => void, passthrough: boolean): () => void {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const patch = (original: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    function write(chunk: unknown, ...rest: unknown[]): boolean {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      if (passthrough) return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    } as typeof process.stdout.write;
  process.stdout.write = patch(out, process.stdout);
  process.stderr.write = patch(err, process.stderr);
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
}

function restoreEnv(snapshot: Record<string, string | undefined>): void {
  for (const key of Object.keys(process.env)) if (!(key in snapshot)) delete process.env[key];
  for (const [key, value] of Object.entries(snapshot)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

function sum(calls: Record<string, number>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}

class TimeoutError extends Error {}

function addInto(total: Record<string, number>, more: Record<string, number>): void {
  for (const [key, n] of Object.entries(more)) total[key] = (total[key] ?? 0) + n;
}

/**
 * The emulator as a scenario sees it: the same, except that when the scenario resets the call
 * counters (to measure one phase) or the whole emulator, the calls made so far still count
 * towards the scenario's total.
 */
function countingEmulator(emulator: Emulator): {
  view: Emulator;
  totals: () => Promise<[Record<string, number>, Record<string, number>, Refusal[]]>;
} {
  const calls: Record<string, number> = {};
  const throttled: Record<string, number> = {};
  const refused: Refusal[] = [];
  const bank = async (): Promise<void> => {
    addInto(calls, await emulator.calls());
    addInto(throttled, await emulator.throttled());
    refused.push(...(await emulator.iam.takeRefusals()));
  };
  const view: Emulator = {
    ...emulator,
    async resetCalls() {
      await bank();
      await emulator.resetCalls();
    },
    async reset() {
      await bank();
      await emulator.reset();
    },
  };
  return {
    view,
    totals: async () => {
      await bank();
      await emulator.resetCalls();
      return [{ ...calls }, { ...throttled }, [...refused]];
    },
  };
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`${what} did not finish within ${formatDuration(ms)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Import the scenario module and run it (output captured into `log`), within the time limit. */
async function importAndRun(
  entry: ScenarioEntry,
  emulator: Emulator,
  view: ScenarioContext['emulator'],
  options: Pick<DemoOptions, 'fast' | 'timeoutMs' | 'progress' | 'verbose'>,
  log: string[],
  setTitle: (title: string) => void,
): Promise<{ status: ScenarioStatus; summary: string; details: Record<string, unknown> | undefined }> {
  const { progress } = options;
  const mod = (await import(pathToFileURL(entry.file).href)) as { default?: unknown };
  if (!isScenario(mod.default)) {
    throw new Error(`${entry.file} must default-export a Scenario ({ name, title, run(ctx) })`);
  }
  const scenario = mod.default;
  const title = scenario.title || entry.name;
  setTitle(title);
  progress.note(title);
  if (scenario.name !== entry.name) {
    progress.note(`(scenario names itself "${scenario.name}"; reported as "${entry.name}", its package)`);
  }
  const ctx: ScenarioContext = {
    emulator: view,
    distDir: entry.distDir,
    fast: options.fast,
    loadBundle: <T>(bundleEntry: string, env: Record<string, string>) =>
      importBundle<T>(entry.distDir, bundleEntry, { ...BUNDLE_DEFAULT_ENV, ...emulator.env, ...env }),
    step: (message) => progress.step(message),
    wait: (message, work) => progress.wait(message, work),
  };
  const restoreStdio = captureStdio((text) => log.push(text), options.verbose === true);
  try {
    const result = await withTimeout(scenario.run(ctx), options.timeoutMs, `scenario ${entry.name}`);
    if (!isResult(result)) throw new Error('run() must resolve to { ok: boolean, summary: string }');
    return { status: result.ok ? 'pass' : 'fail', summary: result.summary, details: result.details };
  } finally {
    restoreStdio();
  }
}

/** The closing lines of a scenario: its mark and summary; on failure the error and the output's tail. */
function printOutcome(
  progress: DemoOptions['progress'],
  verbose: boolean,
  o: {
    status: ScenarioStatus;
    summary: string;
    error: string | undefined;
    calls: number;
    durationMs: number;
    logTail: string[];
  },
): void {
  const mark = o.status === 'pass' ? '✔' : '✖';
  progress.note(
    `${mark} ${o.status.toUpperCase()}: ${o.summary} (${o.calls} AWS calls, ${formatDuration(o.durationMs)})`,
  );
  if (o.status === 'pass') return;
  if (o.error !== undefined) progress.note(o.error.split('\n').slice(0, 8).join('\n    '));
  if (o.logTail.length > 0 && !verbose) {
    progress.note(`last ${o.logTail.length} lines of output:`);
    for (const line of o.logTail) progress.note(`  ${line}`);
  }
}

/**
 * Runs the scenario with process.env restored afterwards; a throw, a timeout or an unhandled
 * rejection while it runs is its error.
 */
async function runGuarded(
  run: () => Promise<{
    status: ScenarioStatus;
    summary: string;
    details: Record<string, unknown> | undefined;
  }>,
): Promise<{
  status: ScenarioStatus;
  summary: string;
  error: string | undefined;
  details: Record<string, unknown> | undefined;
}> {
  let status: ScenarioStatus = 'error';
  let summary = '';
  let error: string | undefined;
  let details: Record<string, unknown> | undefined;
  const envSnapshot = { ...process.env };
  const lateErrors: string[] = [];
  const onUnhandled = (reason: unknown): void => {
    lateErrors.push(`unhandled rejection: ${describe(reason)}`);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    ({ status, summary, details } = await run());
  } catch (e) {
    status = 'error';
    error = e instanceof TimeoutError ? e.message : describe(e);
    summary = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
  } finally {
    restoreEnv(envSnapshot);
    process.off('unhandledRejection', onUnhandled);
  }
  if (lateErrors.length > 0) {
    status = 'error';
    error = [error, ...lateErrors].filter(Boolean).join('\n');
    summary ||= lateErrors[0]!.split('\n')[0]!;
  }
  return { status, summary, error, details };
}

/** Run one scenario against a freshly reset emulator. Never throws: every outcome is a report. */
export async function runScenario(
  entry: ScenarioEntry,
  emulator: Emulator,
  options: Pick<DemoOptions, 'fast' | 'timeoutMs' | 'progress' | 'verbose'>,
): Promise<ScenarioReport> {
  const { progress } = options;
  const start = performance.now();
  const log: string[] = [];
  let title = entry.name;
  await emulator.reset();
  await emulator.resetCalls();
  const counting = countingEmulator(emulator);
  progress.heading(`▶ ${entry.name}`);
  let { status, summary, error, details } = await runGuarded(() =>
    importAndRun(entry, emulator, counting.view, options, log, (t) => {
      title = t;
    }),
  );
  const [callsByAction, throttled, refused] = await counting.totals();
  // Least privilege: every bundle runs as its template's function; a refused call fails the scenario.
  if (refused.length > 0 && status === 'pass') {
    status = 'fail';
    summary = `${refused.length} call(s) refused under the template policies: ${refused
      .map((r) => `${r.action} on ${r.resource}`)
      .join('; ')
      .slice(0, 300)}`;
  }
  const durationMs = Math.round(performance.now() - start);
  const logTail = log.join('').split('\n').filter(Boolean).slice(-LOG_TAIL_LINES);
  printOutcome(progress, options.verbose === true, {
    status,
    summary,
    error,
    calls: sum(callsByAction),
    durationMs,
    logTail,
  });
  return {
    name: entry.name,
    title,
    status,
    ok: status === 'pass',
    summary,
    ...(error === undefined ? {} : { error }),
    awsCalls: sum(callsByAction),
    callsByAction,
    ...(sum(throttled) > 0 ? { throttled } : {}),
    durationMs,
    ...(details === undefined ? {} : { details }),
    ...(status === 'pass' ? {} : { logTail }),
  };
}

/** Start the emulator, run the selected scenarios in order, stop the emulator. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const entries = selectScenarios(options.root, options.only);
  checkDists(entries);
  const startedAt = new Date();
  const start = performance.now();
  let emulator: Emulator;
  try {
    emulator = await options.progress.wait('starting the local AWS emulator', options.startEmulator());
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const hint = message.includes(MOTO_INSTALL)
      ? ''
      : ` If moto is missing, install it with: ${MOTO_INSTALL}`;
    throw new DemoSetupError(`Cannot start the local AWS emulator: ${message}${hint}`, 1);
  }
  const scenarios: ScenarioReport[] = [];
  try {
    for (const entry of entries) scenarios.push(await runScenario(entry, emulator, options));
  } finally {
    await emulator.stop();
  }
  return {
    ok: scenarios.every((s) => s.ok),
    fast: options.fast,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - start),
    region: emulator.region,
    scenarios,
  };
}

/** The final summary table. */
export function summaryTable(report: DemoReport): string {
  const rows = report.scenarios.map((s) => [
    s.name,
    s.status.toUpperCase(),
    s.awsCalls,
    formatDuration(s.durationMs),
    s.summary,
  ]);
  const passed = report.scenarios.filter((s) => s.ok).length;
  const total = `${passed}/${report.scenarios.length} scenarios passed in ${formatDuration(report.durationMs)}`;
  return `${formatTable(['scenario', 'result', 'AWS calls', 'time', 'summary'], rows)}\n\n${total}`;
}
