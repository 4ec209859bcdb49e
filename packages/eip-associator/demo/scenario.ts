// Demo: a small Auto Scaling group scales out against a tagged EIP pool, through the built
// bundle (dist/index.mjs) with the events Auto Scaling sends. One launch more than the pool
// holds is ABANDONed; a terminate returns an EIP, which the replacement launch then takes.
import { DescribeAddressesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { BundleHandler, Scenario, ScenarioContext } from '@netkit/demo';
import {
  allocatePool,
  beginLaunches,
  ec2CallCount,
  GROUP,
  launchInstances,
  lifecycleEventFor,
  POOL_TAGS,
  TEMPLATE,
  TEMPLATE_PARAMETERS,
  TERMINATE_HOOK,
} from '../test/support/fleet.ts';
import { runComposedGroup } from './composed.ts';

interface Outcome {
  status: string;
  allocationId?: string;
  publicIp?: string;
  reason?: string;
}

function lambdaContext(timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  return { awsRequestId: 'demo', getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
}

async function holders(ec2: EC2Client, allocationIds: string[]): Promise<Map<string, string | undefined>> {
  const out = await ec2.send(new DescribeAddressesCommand({ AllocationIds: allocationIds }));
  return new Map((out.Addresses ?? []).map((a) => [a.AllocationId!, a.InstanceId || undefined]));
}

const scenario: Scenario = {
  name: 'eip-associator',
  title: 'Scale-out against a tagged EIP pool: one EIP each, ABANDON when empty, terminate returns an EIP',
  async run(ctx: ScenarioContext) {
    const { emulator } = ctx;
    const poolSize = ctx.fast ? 3 : 5;
    const ec2 = new EC2Client(emulator.clientConfig);
    const checks: Record<string, boolean> = {};

    ctx.step(`Pool: ${poolSize} EIPs tagged ${JSON.stringify(POOL_TAGS)}, 1 EIP with another tag`);
    const instances = await launchInstances(ec2, poolSize + 2);
    const pool = await allocatePool(ec2, poolSize, POOL_TAGS);
    const [other] = await allocatePool(ec2, 1, { 'netkit:eip-pool': 'staging ForwardProxy' });
    const burst = instances.slice(0, poolSize + 1);
    const replacement = instances[poolSize + 1]!;

    // The bundle runs as the template's function: its credentials map to the template's policy.
    const fn = await emulator.iam.registerFromTemplate({
      template: TEMPLATE,
      logicalId: 'Function',
      parameters: TEMPLATE_PARAMETERS,
    });
    const { handler } = await ctx.loadBundle<{ handler: BundleHandler }>('index', {
      ...fn.env,
      EIP_POOL_TAGS: JSON.stringify(POOL_TAGS),
      AUTO_SCALING_GROUP_NAME: GROUP,
      // The launch that finds the pool empty waits this long; the others must finish well within it
      // (four EC2 calls and a heartbeat), also on a loaded 2-core machine.
      ASSOCIATE_TIMEOUT_SECONDS: ctx.fast ? '4' : '5',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    const invoke = (event: unknown) => handler(event, lambdaContext(60_000)) as Promise<Outcome>;
    await emulator.resetCalls();

    ctx.step(`Group ${GROUP} scales out by ${burst.length}: launch lifecycle events delivered concurrently`);
    const events = await beginLaunches(emulator, burst);
    const results = await ctx.wait(
      `${burst.length} launches (the last one has no EIP left and waits for its deadline)`,
      Promise.all(events.map(invoke)),
    );
    for (const [i, r] of results.entries()) {
      ctx.step(
        `  ${burst[i]} -> ${r.status}${r.publicIp ? ` ${r.publicIp}` : ''}${r.reason ? ` (${r.reason})` : ''}`,
      );
    }
    let held = await holders(ec2, pool);
    const owners = [...held.values()].filter((v) => v !== undefined);
    checks['every pool EIP held by exactly one instance'] =
      owners.length === poolSize && new Set(owners).size === poolSize;
    const completions = await emulator.lifecycle.completions();
    checks[`${poolSize} CONTINUE and 1 ABANDON`] =
      completions.filter((c) => c.result === 'CONTINUE').length === poolSize &&
      completions.filter((c) => c.result === 'ABANDON').length === 1;
    const abandoned = burst.find((id) =>
      completions.some((c) => c.instanceId === id && c.result === 'ABANDON'),
    );
    checks['the abandoned instance holds no EIP'] = abandoned !== undefined && !owners.includes(abandoned);

    ctx.step('The same launch events delivered again (at-least-once delivery)');
    const before = held;
    const continued = events.filter((e) => e.detail.EC2InstanceId !== abandoned);
    const again = await ctx.wait('redelivery', Promise.all(continued.map(invoke)));
    held = await holders(ec2, pool);
    checks['redelivery changes nothing'] =
      again.length === poolSize &&
      again.every((r) => r.status === 'ended') &&
      [...held.entries()].every(([k, v]) => before.get(k) === v);

    const leaving = owners[0]!;
    const freed = [...held.entries()].find(([, v]) => v === leaving)![0];
    ctx.step(`Scale-in: ${leaving} terminates; its terminate hook releases ${freed}`);
    const terminateToken = await emulator.lifecycle.begin({
      groupName: GROUP,
      hookName: TERMINATE_HOOK,
      instanceId: leaving,
      transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    });
    const released = await invoke(
      lifecycleEventFor('terminate', leaving, terminateToken, { region: emulator.region }),
    );
    checks['terminate released the EIP'] =
      released.status === 'done' && (await holders(ec2, [freed])).get(freed) === undefined;

    ctx.step(`The group replaces the abandoned launch: ${replacement}`);
    const [replacementEvent] = await beginLaunches(emulator, [replacement]);
    const taken = await ctx.wait('replacement launch', invoke(replacementEvent));
    checks['the replacement takes the released EIP'] =
      taken.status === 'done' && (await holders(ec2, [freed])).get(freed) === replacement;
    checks['the EIP with another tag was never touched'] =
      (await holders(ec2, [other!])).get(other!) === undefined;

    const calls = await emulator.calls();

    ctx.step('Composed group: eni-attach and eip-associator launch hooks on one group, run in parallel');
    const composed = await ctx.wait(
      'both hooks for every launch',
      runComposedGroup({
        emulator,
        distDir: ctx.distDir,
        launches: ctx.fast ? 10 : 12,
        describeLagMs: 1_000,
        step: (m) => ctx.step(`  ${m}`),
      }),
    );
    for (const [name, ok] of Object.entries(composed.checks)) checks[`composed: ${name}`] = ok;

    const failed = Object.entries(checks)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    for (const [name, ok] of Object.entries(checks)) ctx.step(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
    return {
      ok: failed.length === 0,
      summary:
        failed.length === 0
          ? `${poolSize} launches got one EIP each, 1 ABANDON, terminate returned ${freed} to the replacement; composed with eni-attach on one group`
          : `failed: ${failed.join('; ')}`,
      details: { checks, ec2Calls: ec2CallCount(calls), calls, results },
    };
  },
};

export default scenario;
