/**
 * Cost simulator: replays 30-day task traces against always-on endpoints, the seed's policy,
 * this package's policies (the same `decide` the handlers run) and the exact offline optimum.
 *
 * Interface endpoints bill per endpoint per AZ per hour, a partial hour as a full one; AWS does not
 * document whether the hours run from the endpoint's creation or on UTC clock hours. Every policy is
 * therefore billed under both models and judged by its worst case.
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
  /** Endpoints are created this long after the stack (its security group comes first). */
  endpointLagMs: number;
}

/** How AWS might count the hours of an endpoint (undocumented): from its creation, or UTC clock hours. */
export type BillingModel = 'creation' | 'clock-hour';
export const BILLING_MODELS: readonly BillingModel[] = ['creation', 'clock-hour'];

/** Billed hours of an endpoint that existed from `createdAt` to `deletedAt` under `model`. */
export function billedHoursUnder(model: BillingModel, createdAt: number, deletedAt: number): number {
  if (model === 'creation') return billedHours(createdAt, deletedAt);
  return Math.max(1, Math.ceil(deletedAt / HOUR_MS) - Math.floor(createdAt / HOUR_MS));
}

export const defaults: SimParams = {
  days: 30,
  createMs: 3 * MIN,
  deleteMs: 2 * MIN,
  taskMs: 10 * MIN,
  leaseMs: 5 * MIN,
  reaperEveryMs: 5 * MIN,
  stepMs: 15_000,
  endpointAzHoursPerStackHour: 3 * 2, // 3 interface endpoints (logs, ecr.api, ecr.dkr) x 2 AZs
  pricePerAzHour: 0.014, // ap-northeast-1
  endpointLagMs: 20_000,
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
  /** Billed stack-hours with hours counted from the endpoints' creation. */
  stackHours: number;
  /** Billed stack-hours with UTC clock hours. */
  clockHours: number;
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
  const hours = noHours();
  let created = 0;
  let violations = 0;
  const delays: number[] = [];
  let next = 0;
  const end = p.days * DAY + 6 * HOUR_MS;
  for (let t = 0; t < end; t += p.stepMs) {
    if (stack?.status === 'CREATE_IN_PROGRESS' && t >= stack.createdAt + p.createMs)
      stack.status = 'CREATE_COMPLETE';
    if (stack?.status === 'DELETE_IN_PROGRESS' && t >= stack.deleteAt + p.deleteMs) {
      bill(hours, stack.createdAt + p.endpointLagMs, t);
      stack = undefined;
    }
    const stopped = running.some((e) => e <= t);
    running = running.filter((e) => e > t);
    if (running.length > 0 && stack?.status !== 'CREATE_COMPLETE') violations++;
    while (next < requests.length && requests[next]! <= t) pending.push(requests[next++]!);
    // acquire: the lease is written first, then the stack is made ready
    while (pending.length > 0) {
      leaseUntil = Math.max(leaseUntil ?? 0, t + p.leaseMs);
      // The handlers anchor on the earliest endpoint CreationTimestamp.
      const view = stack && { status: stack.status, createdAt: stack.createdAt + p.endpointLagMs };
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
      const view = { status: stack.status, createdAt: stack.createdAt + p.endpointLagMs };
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
  if (stack) bill(hours, stack.createdAt + p.endpointLagMs, end);
  return outcome(hours, delays, violations, created);
}

type Hours = Record<BillingModel, number>;
const noHours = (): Hours => ({ creation: 0, 'clock-hour': 0 });
function bill(hours: Hours, createdAt: number, deletedAt: number) {
  for (const model of BILLING_MODELS) hours[model] += billedHoursUnder(model, createdAt, deletedAt);
}

/** The seed: acquire waits 30 s, creates if absent (a deleting stack counts as alive), runs; reaper every 30 min deletes any stack older than the threshold. */
export function simulateSeed(requests: number[], p: SimParams, thresholdMs = 30 * MIN): SimOutcome {
  let stack: Stack | undefined;
  const pending: { at: number; ready: number }[] = [];
  let running: number[] = [];
  const hours = noHours();
  let created = 0;
  let violations = 0;
  const delays: number[] = [];
  let next = 0;
  const end = p.days * DAY + 6 * HOUR_MS;
  for (let t = 0; t < end; t += p.stepMs) {
    if (stack?.status === 'CREATE_IN_PROGRESS' && t >= stack.createdAt + p.createMs)
      stack.status = 'CREATE_COMPLETE';
    if (stack?.status === 'DELETE_IN_PROGRESS' && t >= stack.deleteAt + p.deleteMs) {
      bill(hours, stack.createdAt + p.endpointLagMs, t);
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
  if (stack) bill(hours, stack.createdAt + p.endpointLagMs, end);
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

function outcome(hours: Hours, delays: number[], violations: number, created: number): SimOutcome {
  const mean = delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : 0;
  return {
    stackHours: hours.creation,
    clockHours: hours['clock-hour'],
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

/** The policies the simulator compares; `decide` runs each. */
export const POLICIES: ReadonlyArray<{ name: string; policy: PolicyConfig }> = [
  {
    name: 'hour-aligned, hours from endpoint creation',
    policy: { deletePolicy: 'hour-aligned', billingGuardMs: 10 * MIN, billingAnchor: 'endpoint-creation' },
  },
  {
    name: 'hour-aligned, UTC clock hours',
    policy: { deletePolicy: 'hour-aligned', billingGuardMs: 10 * MIN, billingAnchor: 'clock-hour' },
  },
  {
    name: 'immediate',
    policy: { deletePolicy: 'immediate', billingGuardMs: 10 * MIN, billingAnchor: 'endpoint-creation' },
  },
];

const worst = (o: SimOutcome) => Math.max(o.stackHours, o.clockHours);

const bench: Benchmark = async ({ fast }) => {
  const p: SimParams = {
    ...defaults,
    days: fast ? 7 : defaults.days,
    stepMs: fast ? 30_000 : defaults.stepMs,
  };
  const rows: (string | number)[][] = [];
  const chart: { trace: string; always: number; seed: number; pkg: number; opt: number }[] = [];
  const targets: BenchResult['targets'] = [];
  const data: Record<string, unknown> = { params: p, policies: POLICIES };
  const usd = (h: number) => (h * p.endpointAzHoursPerStackHour * p.pricePerAzHour).toFixed(2);
  const all = Object.entries(traces(p.days)).map(([name, requests]) => ({
    name,
    requests,
    seed: simulateSeed(requests, p),
    opt: optimum(requests, p),
    runs: POLICIES.map((entry) => simulatePackage(requests, p, entry.policy)),
  }));
  // Each policy's worst case: the more expensive billing model, summed over the traces.
  const worstTotals = POLICIES.map((_, i) =>
    Math.max(
      all.reduce((sum, t) => sum + t.runs[i]!.stackHours, 0),
      all.reduce((sum, t) => sum + t.runs[i]!.clockHours, 0),
    ),
  );
  const best = worstTotals.indexOf(Math.min(...worstTotals));
  data.worstCaseTotals = Object.fromEntries(POLICIES.map((e, i) => [e.name, worstTotals[i]]));
  data.default = POLICIES[best]!.name;
  for (const t of all) {
    const always = p.days * 24;
    rows.push([t.name, 'always-on', always, always, usd(always), 0, 0, 0]);
    rows.push([
      t.name,
      'seed (30-min reaper, age > 30 min)',
      t.seed.stackHours,
      t.seed.clockHours,
      usd(worst(t.seed)),
      t.seed.meanDelayS,
      t.seed.maxDelayS,
      t.seed.violations,
    ]);
    for (const [i, entry] of POLICIES.entries()) {
      const run = t.runs[i]!;
      rows.push([
        t.name,
        `endpoint-lease: ${entry.name}${i === best ? ' (default)' : ''}`,
        run.stackHours,
        run.clockHours,
        usd(worst(run)),
        run.meanDelayS,
        run.maxDelayS,
        run.violations,
      ]);
    }
    rows.push([t.name, 'offline optimum (creation billing)', t.opt, '', usd(t.opt), 0, 0, 0]);
    const pkg = t.runs[best]!;
    chart.push({ trace: t.name.split(' (')[0]!, always, seed: worst(t.seed), pkg: worst(pkg), opt: t.opt });
    data[t.name] = { tasks: t.requests.length, always, seed: t.seed, policies: t.runs, optimum: t.opt };
    const bestHere = Math.min(...t.runs.map(worst));
    targets.push({
      description: `${t.name}: the default's worst case within 1.10x of the best worst case of any policy`,
      met: worst(pkg) <= 1.1 * bestHere,
      measured: `${(worst(pkg) / bestHere).toFixed(3)}x (${worst(pkg)} h vs ${bestHere} h; creation-billing optimum ${t.opt} h)`,
    });
    targets.push({
      description: `${t.name}: no task without its endpoints, under every policy`,
      met: t.runs.every((r) => r.violations === 0),
      measured: `${t.runs.map((r) => r.violations).join(' / ')} task-steps without endpoints (seed: ${t.seed.violations})`,
    });
  }
  return {
    name: 'endpoint-lease-cost',
    title: `endpoint-lease: billed endpoint-stack hours over ${p.days} days under both billing models (create ${p.createMs / MIN} min, delete ${p.deleteMs / MIN} min, task ${p.taskMs / MIN} min); default = best worst case: ${POLICIES[best]!.name}`,
    tables: [
      {
        columns: [
          'trace',
          'policy',
          'hours (billed from creation)',
          'hours (UTC clock hours)',
          'USD worst case (3 endpoints x 2 AZ, $0.014)',
          'mean delay s',
          'max delay s',
          'steps without endpoints',
        ],
        rows,
      },
      {
        columns: ['policy', 'worst-case hours, all traces'],
        rows: POLICIES.map((e, i) => [`${e.name}${i === best ? ' (default)' : ''}`, worstTotals[i]!]),
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
