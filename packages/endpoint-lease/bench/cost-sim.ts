/**
 * Cost simulator: replays 30-day task traces against always-on endpoints, the seed's policy,
 * this package's policy (the same `decide` the handlers run) and the exact offline optimum.
 * Run: npx tsx packages/endpoint-lease/bench/cost-sim.ts
 */
import { pathToFileURL } from 'node:url';
import type { Benchmark, BenchResult } from '@netkit/bench';
import { billedHours, decide, HOUR_MS, type PolicyConfig } from '../src/policy.ts';

const MIN = 60_000;
const DAY = 24 * HOUR_MS;

export interface SimParams {
  days: number;
  createMs: number;
  deleteMs: number;
  taskMs: number;
  leaseMs: number;
  reaperEveryMs: number;
  stepMs: number;
  endpointAzHoursPerStackHour: number;
  pricePerAzHour: number;
}

export const defaults: SimParams = {
  days: 30,
  createMs: 3 * MIN,
  deleteMs: 2 * MIN,
  taskMs: 10 * MIN,
  leaseMs: 5 * MIN,
  reaperEveryMs: 5 * MIN,
  stepMs: 15_000,
  endpointAzHoursPerStackHour: 4 * 2, // 4 interface endpoints x 2 AZs
  pricePerAzHour: 0.014, // ap-northeast-1
};

/** Deterministic PRNG (mulberry32) so the Poisson trace is reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function traces(days: number): Record<string, number[]> {
  const end = days * DAY;
  const daily = Array.from({ length: days }, (_, d) => d * DAY + 9 * HOUR_MS);
  const bursts: number[] = [];
  for (let d = 0; d < days; d++) {
    for (const h of [10, 16]) for (let k = 0; k < 12; k++) bursts.push(d * DAY + h * HOUR_MS + k * 10 * MIN);
  }
  const poisson: number[] = [];
  const random = rng(42);
  for (let t = -Math.log(1 - random()) * HOUR_MS; t < end; t += -Math.log(1 - random()) * HOUR_MS) {
    poisson.push(Math.round(t / 15_000) * 15_000);
  }
  const every61: number[] = [];
  for (let t = 0; t < end; t += 61 * MIN) every61.push(t);
  return {
    'one task a day': daily,
    'bursts (10 min x 2 h, twice a day)': bursts,
    'Poisson, one per hour': poisson,
    'a task every 61 minutes': every61,
  };
}

export interface SimOutcome {
  stackHours: number;
  meanDelayS: number;
  maxDelayS: number;
  /** Task-minutes spent without endpoints (started or running while the stack was not complete). */
  violations: number;
  stacksCreated: number;
}

interface Stack {
  status: 'CREATE_IN_PROGRESS' | 'CREATE_COMPLETE' | 'DELETE_IN_PROGRESS';
  createdAt: number;
  deleteAt: number;
}

/** This package: acquire and reaper both ask `decide`; the reaper runs on a rate schedule and on task stop. */
export function simulatePackage(requests: number[], p: SimParams, policy: PolicyConfig): SimOutcome {
  let stack: Stack | undefined;
  let leaseUntil: number | undefined;
  const pending: number[] = [];
  let running: number[] = [];
  let hours = 0;
  let created = 0;
  let violations = 0;
  const delays: number[] = [];
  let next = 0;
  const end = p.days * DAY + 6 * HOUR_MS;
  for (let t = 0; t < end; t += p.stepMs) {
    if (stack?.status === 'CREATE_IN_PROGRESS' && t >= stack.createdAt + p.createMs)
      stack.status = 'CREATE_COMPLETE';
    if (stack?.status === 'DELETE_IN_PROGRESS' && t >= stack.deleteAt + p.deleteMs) {
      hours += billedHours(stack.createdAt, t);
      stack = undefined;
    }
    const stopped = running.some((e) => e <= t);
    running = running.filter((e) => e > t);
    if (running.length > 0 && stack?.status !== 'CREATE_COMPLETE') violations++;
    while (next < requests.length && requests[next]! <= t) pending.push(requests[next++]!);
    // acquire: the lease is written first, then the stack is made ready
    while (pending.length > 0) {
      leaseUntil = Math.max(leaseUntil ?? 0, t + p.leaseMs);
      const view = stack && { status: stack.status, createdAt: stack.createdAt };
      const action = decide(
        { stack: view, leaseUntil, activeTasks: running.length, demand: true },
        t,
        policy,
      );
      if (action.kind === 'create') {
        stack = { status: 'CREATE_IN_PROGRESS', createdAt: t, deleteAt: 0 };
        created++;
        break;
      }
      if (action.kind !== 'use') break;
      delays.push(t - pending.shift()!);
      running.push(t + p.taskMs);
    }
    // reaper: on its schedule and when a task stops
    if (stack && (t % p.reaperEveryMs === 0 || stopped)) {
      const view = { status: stack.status, createdAt: stack.createdAt };
      const action = decide(
        { stack: view, leaseUntil, activeTasks: running.length, demand: false },
        t,
        policy,
      );
      if (action.kind === 'delete') {
        stack.status = 'DELETE_IN_PROGRESS';
        stack.deleteAt = t;
      }
    }
  }
  if (stack) hours += billedHours(stack.createdAt, end);
  return outcome(hours, delays, violations, created);
}

/** The seed: acquire waits 30 s, creates if absent (a deleting stack counts as alive), runs; reaper every 30 min deletes any stack older than the threshold. */
export function simulateSeed(requests: number[], p: SimParams, thresholdMs = 30 * MIN): SimOutcome {
  let stack: Stack | undefined;
  const pending: { at: number; ready: number }[] = [];
  let running: number[] = [];
  let hours = 0;
  let created = 0;
  let violations = 0;
  const delays: number[] = [];
  let next = 0;
  const end = p.days * DAY + 6 * HOUR_MS;
  for (let t = 0; t < end; t += p.stepMs) {
    if (stack?.status === 'CREATE_IN_PROGRESS' && t >= stack.createdAt + p.createMs)
      stack.status = 'CREATE_COMPLETE';
    if (stack?.status === 'DELETE_IN_PROGRESS' && t >= stack.deleteAt + p.deleteMs) {
      hours += billedHours(stack.createdAt, t);
      stack = undefined;
    }
    running = running.filter((e) => e > t);
    if (running.length > 0 && stack?.status !== 'CREATE_COMPLETE') violations++;
    while (next < requests.length && requests[next]! <= t) {
      pending.push({ at: requests[next]!, ready: requests[next]! + 30_000 });
      next++;
    }
    for (let i = 0; i < pending.length; ) {
      const r = pending[i]!;
      if (t < r.ready) {
        i++;
        continue;
      }
      if (stack === undefined) {
        stack = { status: 'CREATE_IN_PROGRESS', createdAt: t, deleteAt: 0 };
        created++;
      }
      if (stack.status === 'CREATE_IN_PROGRESS') {
        r.ready = t + 30_000;
        i++;
        continue;
      }
      delays.push(t - r.at);
      running.push(t + p.taskMs);
      pending.splice(i, 1);
    }
    if (
      stack &&
      stack.status !== 'DELETE_IN_PROGRESS' &&
      t % (30 * MIN) === 0 &&
      t - stack.createdAt > thresholdMs
    ) {
      stack.status = 'DELETE_IN_PROGRESS';
      stack.deleteAt = t;
    }
  }
  if (stack) hours += billedHours(stack.createdAt, end);
  return outcome(hours, delays, violations, created);
}

/**
 * Exact offline optimum with zero start delay: each task needs a stack created C before it and
 * kept until its end (+ deletion time). Consecutive tasks are grouped into stack lifetimes; a
 * group j..k costs ceil((end_k + D - (r_j - C)) / 1 h) billed hours; lifetimes cannot overlap.
 * O(n^2) dynamic programme over the sorted requests.
 */
export function optimum(requests: number[], p: SimParams): number {
  const r = [...requests].sort((a, b) => a - b);
  const n = r.length;
  const best = new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY);
  best[0] = 0;
  let maxEnd = 0;
  for (let k = 1; k <= n; k++) {
    maxEnd = 0;
    for (let j = k; j >= 1; j--) {
      maxEnd = Math.max(maxEnd, r[j - 1]! + p.taskMs);
      const start = r[j - 1]! - p.createMs;
      // the previous group must be fully deleted before this one is created
      if (j > 1) {
        const prevEnd = r[j - 2]! + p.taskMs + p.deleteMs;
        if (prevEnd > start) continue;
      }
      const cost = Math.ceil((maxEnd + p.deleteMs - start) / HOUR_MS);
      best[k] = Math.min(best[k]!, best[j - 1]! + cost);
    }
  }
  return best[n]!;
}

function outcome(hours: number, delays: number[], violations: number, created: number): SimOutcome {
  const mean = delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : 0;
  return {
    stackHours: hours,
    meanDelayS: Math.round(mean / 1000),
    maxDelayS: Math.round(Math.max(0, ...delays) / 1000),
    violations,
    stacksCreated: created,
  };
}

function svgChart(rows: { trace: string; always: number; seed: number; pkg: number; opt: number }[]): string {
  const W = 760;
  const barH = 14;
  const groupH = 4 * barH + 26;
  const H = rows.length * groupH + 40;
  const max = Math.max(...rows.flatMap((r) => [r.always, r.seed, r.pkg, r.opt]));
  const colors: [string, string][] = [
    ['always-on', '#9e9e9e'],
    ['seed', '#e57373'],
    ['endpoint-lease', '#1e88e5'],
    ['optimum', '#43a047'],
  ];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
  ];
  parts.push(
    `<text x="10" y="16" font-size="13">Billed endpoint-stack hours over 30 days (lower is better)</text>`,
  );
  rows.forEach((r, i) => {
    const y0 = 30 + i * groupH;
    parts.push(`<text x="10" y="${y0 + 10}">${r.trace}</text>`);
    [r.always, r.seed, r.pkg, r.opt].forEach((v, k) => {
      const y = y0 + 14 + k * barH;
      const w = Math.max(1, (v / max) * (W - 260));
      parts.push(
        `<rect x="120" y="${y}" width="${w.toFixed(1)}" height="${barH - 3}" fill="${colors[k]![1]}"/>`,
      );
      parts.push(`<text x="${(125 + w).toFixed(1)}" y="${y + 10}">${colors[k]![0]} ${v}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const bench: Benchmark = async ({ fast }) => {
  const p: SimParams = {
    ...defaults,
    days: fast ? 7 : defaults.days,
    stepMs: fast ? 30_000 : defaults.stepMs,
  };
  const policy: PolicyConfig = {
    deletePolicy: 'hour-aligned',
    billingGuardMs: 10 * MIN,
    billingAnchor: 'stack-creation',
  };
  const rows: (string | number)[][] = [];
  const chart: { trace: string; always: number; seed: number; pkg: number; opt: number }[] = [];
  const targets: BenchResult['targets'] = [];
  const data: Record<string, unknown> = { params: p, policy };
  for (const [name, requests] of Object.entries(traces(p.days))) {
    const always = p.days * 24;
    const seed = simulateSeed(requests, p);
    const pkg = simulatePackage(requests, p, policy);
    const opt = optimum(requests, p);
    const ratio = pkg.stackHours / opt;
    const usd = (h: number) => (h * p.endpointAzHoursPerStackHour * p.pricePerAzHour).toFixed(2);
    rows.push(
      [name, 'always-on', always, usd(always), 0, 0, 0],
      [
        name,
        'seed (30-min reaper, age > 30 min)',
        seed.stackHours,
        usd(seed.stackHours),
        seed.meanDelayS,
        seed.maxDelayS,
        seed.violations,
      ],
      [
        name,
        'endpoint-lease (hour-aligned)',
        pkg.stackHours,
        usd(pkg.stackHours),
        pkg.meanDelayS,
        pkg.maxDelayS,
        pkg.violations,
      ],
      [name, 'offline optimum', opt, usd(opt), 0, 0, 0],
    );
    chart.push({ trace: name.split(' (')[0]!, always, seed: seed.stackHours, pkg: pkg.stackHours, opt });
    data[name] = { tasks: requests.length, always, seed, package: pkg, optimum: opt, ratio };
    targets.push({
      description: `${name}: endpoint-lease within 1.10x of the offline optimum`,
      met: ratio <= 1.1,
      measured: `${ratio.toFixed(3)}x (${pkg.stackHours} h vs ${opt} h)`,
    });
    targets.push({
      description: `${name}: no task without its endpoints`,
      met: pkg.violations === 0,
      measured: `${pkg.violations} task-steps without endpoints (seed: ${seed.violations})`,
    });
  }
  return {
    name: 'endpoint-lease-cost',
    title: `endpoint-lease: billed endpoint-stack hours over ${p.days} days (create ${p.createMs / MIN} min, delete ${p.deleteMs / MIN} min, task ${p.taskMs / MIN} min)`,
    tables: [
      {
        columns: [
          'trace',
          'policy',
          'stack-hours',
          'USD (4 endpoints x 2 AZ, $0.014)',
          'mean delay s',
          'max delay s',
          'steps without endpoints',
        ],
        rows,
      },
    ],
    data,
    targets,
    svg: svgChart(chart),
  };
};

export default bench;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const fast = process.argv.includes('--fast');
  const result = await bench({ fast });
  console.log(result.title);
  for (const table of result.tables) {
    console.log(table.columns.join(' | '));
    for (const row of table.rows) console.log(row.join(' | '));
  }
  for (const t of result.targets) console.log(`${t.met ? 'MET ' : 'MISS'} ${t.description}: ${t.measured}`);
}
