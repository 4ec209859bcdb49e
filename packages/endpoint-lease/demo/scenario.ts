/**
 * Demo: two tasks acquire one endpoint stack; the reaper keeps it while the billed hour is paid
 * (simulated clock) and deletes it just before the hour ends. Runs through the built bundles.
 */
import { StopTaskCommand } from '@aws-sdk/client-ecs';
import { type BundleHandler, isolatedBundle, type Scenario } from '@netkit/demo';
import { describeStack } from '../src/stack.ts';
import { buildWorld } from '../test/support/world.ts';

const MIN = 60_000;

/** Run `work` with Date.now shifted by `offsetMs`: the demo's simulated clock for the reaper bundle. */
async function at<T>(offsetMs: number, work: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + offsetMs;
  try {
    return await work();
  } finally {
    Date.now = real;
  }
}

const context = (id: string) => ({ awsRequestId: id, getRemainingTimeInMillis: () => 120_000 });

const scenario: Scenario = {
  name: 'endpoint-lease',
  title: 'Two Fargate tasks share one endpoint stack; the reaper deletes it at the end of the paid hour',
  async run(ctx) {
    const emu = ctx.emulator;
    const world = await ctx.wait(
      'Creating a private VPC, subnets, cluster and task definition',
      buildWorld(emu),
    );
    const env = { ...world.env, POWERTOOLS_LOG_LEVEL: 'SILENT', CONSISTENCY_SETTLE_SECONDS: '0' };
    // Each bundle runs as its template's function (acquire and reaper have different policies):
    // acquire in a worker thread with its own credentials, the reaper here, where `at` shifts its clock.
    const acquire = isolatedBundle(ctx.distDir, 'acquire', {
      ...world.functions.acquire.env,
      ...env,
    }).handler;
    const reaper = (
      await ctx.loadBundle<{ handler: BundleHandler }>('reaper', { ...world.functions.reaper.env, ...env })
    ).handler;
    const calls0 = await emu.calls();

    const results = (await ctx.wait(
      'Two acquires at once (user trigger events)',
      Promise.all([acquire({ count: 1 }, context('acquire-1')), acquire({ count: 1 }, context('acquire-2'))]),
    )) as { status: string; action: string; taskArns: string[]; stackId: string; created: boolean }[];
    const stackIds = new Set(results.map((r) => r.stackId));
    const taskArns = results.flatMap((r) => r.taskArns);
    ctx.step(
      `${taskArns.length} tasks started on ${stackIds.size} endpoint stack (created by ${results.filter((r) => r.created).length} acquire)`,
    );

    const whileRunning = (await at(56 * MIN, () => reaper({}, context('reaper-1')))) as {
      action: string;
      reason?: string;
    };
    ctx.step(`t+56 min, tasks running: reaper -> ${whileRunning.action} (${whileRunning.reason})`);
    for (const task of taskArns) {
      await world.clients.ecs.send(
        new StopTaskCommand({ cluster: world.config.clusterArn, task, reason: 'demo done' }),
      );
    }
    ctx.step('Tasks finished');
    const early = (await at(20 * MIN, () => reaper({}, context('reaper-2')))) as {
      action: string;
      reason?: string;
    };
    ctx.step(`t+20 min, idle: reaper -> ${early.action} (${early.reason}: the hour is already paid)`);
    const stillThere = (await describeStack(world.clients.cfn, world.config.stackName)) !== undefined;
    const late = (await at(55 * MIN, () => reaper({}, context('reaper-3')))) as {
      action: string;
      reason?: string;
    };
    ctx.step(`t+55 min, idle: reaper -> ${late.action} (${late.reason})`);
    const gone = (await describeStack(world.clients.cfn, world.config.stackName)) === undefined;

    const calls1 = await emu.calls();
    const awsCalls = Object.entries(calls1).reduce((n, [k, v]) => n + v - (calls0[k] ?? 0), 0);
    const ok =
      results.every((r) => r.status === 'done' && r.action === 'started') &&
      stackIds.size === 1 &&
      taskArns.length === 2 &&
      whileRunning.action === 'keep' &&
      early.action === 'keep' &&
      stillThere &&
      late.action === 'deleted' &&
      gone;
    return {
      ok,
      summary: ok
        ? '2 tasks, 1 stack; kept while paid, deleted at hour end'
        : `unexpected: running=${whileRunning.action} early=${early.action} late=${late.action} gone=${gone}`,
      details: { stackIds: [...stackIds], taskArns, reaper: [whileRunning, early, late], awsCalls },
    };
  },
};

export default scenario;
