// Demo: concurrent launches take fixed-IP ENIs from the pool (lowest first, hostnames shown),
// a launch past the pool is abandoned, a terminate returns an ENI, and the on-instance agent
// runs once against a local IMDSv2 stand-in. Everything goes through the built bundles.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { DescribeNetworkInterfacesCommand, DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { BundleHandler, Scenario, ScenarioContext } from '@netkit/demo';
import { startImdsFixture } from '../test/support/imds-server.ts';
import {
  buildWorld,
  GROUP,
  HOOK,
  launch,
  POOL_TAGS,
  TEMPLATE_FUNCTION,
  TERMINATE_HOOK,
  terminate,
} from '../test/support/world.ts';

type Kind = 'launch' | 'terminate';

/** The EventBridge event Auto Scaling sends for a lifecycle action (documented shape). */
function lifecycleEvent(kind: Kind, region: string, instanceId: string, token: string) {
  return {
    version: '0',
    id: `demo-${kind}-${instanceId}`,
    'detail-type':
      kind === 'launch' ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region,
    resources: [
      `arn:aws:autoscaling:${region}:123456789012:autoScalingGroup:demo:autoScalingGroupName/${GROUP}`,
    ],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: GROUP,
      LifecycleHookName: kind === 'launch' ? HOOK : TERMINATE_HOOK,
      EC2InstanceId: instanceId,
      LifecycleTransition:
        kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      ...(kind === 'launch'
        ? { Origin: 'EC2', Destination: 'AutoScalingGroup' }
        : { Origin: 'AutoScalingGroup', Destination: 'EC2' }),
    },
  };
}

function context(ms: number) {
  const start = Date.now();
  return { awsRequestId: 'demo', getRemainingTimeInMillis: () => ms - (Date.now() - start) };
}

function runAgentBundle(
  ctx: ScenarioContext,
  imdsEndpoint: string,
): Promise<{ code: number; report: Record<string, unknown> }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ctx.distDir, 'agent.mjs'), '--no-hostname', '--timeout', '10'],
      {
        env: {
          PATH: process.env.PATH,
          ...ctx.emulator.env,
          AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsEndpoint,
          ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
        },
      },
      (error, stdout) => {
        let report: Record<string, unknown> = {};
        try {
          report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
        } catch {
          report = { error: stdout };
        }
        resolve({ code: error ? Number(error.code ?? 1) : 0, report });
      },
    );
  });
}

const scenario: Scenario = {
  name: 'eni-pool-agent',
  title: 'Fixed private IPs and hostnames from a pool of ENIs (Lambda mode and on-instance agent)',
  async run(ctx) {
    const { emulator } = ctx;
    const region = emulator.region;
    const azs = [`${region}a`, `${region}c`];
    const perAz = ctx.fast ? 3 : 6;
    const ec2 = new EC2Client(emulator.clientConfig);
    const checks: Record<string, boolean> = {};
    const begin = async (kind: Kind, instanceId: string) =>
      lifecycleEvent(
        kind,
        region,
        instanceId,
        await emulator.lifecycle.begin({
          groupName: GROUP,
          hookName: kind === 'launch' ? HOOK : TERMINATE_HOOK,
          instanceId,
          transition:
            kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
        }),
      );
    const poolEnis = async () =>
      (
        await ec2.send(
          new DescribeNetworkInterfacesCommand({
            Filters: Object.entries(POOL_TAGS).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
          }),
        )
      ).NetworkInterfaces ?? [];

    const zones = await ctx.wait(
      `Creating a pool of ${perAz} fixed-IP ENIs in each of ${azs.join(', ')} (pool CLI core)`,
      buildWorld(ec2, azs, perAz),
    );
    // The bundle runs as the template's function (Lambda mode): its credentials map to its policy.
    const fn = await emulator.iam.registerFromTemplate(TEMPLATE_FUNCTION);
    const env = {
      ...fn.env,
      ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
      AUTO_SCALING_GROUP_NAME: GROUP,
      ATTACH_TIMEOUT_SECONDS: '60',
    };
    const { handler } = await ctx.loadBundle<{ handler: BundleHandler }>('index', env);

    // 1. A burst: as many launches as the pool holds, in both AZs at once.
    const instances = (await Promise.all(zones.map((z) => launch(ec2, z.subnetId, perAz)))).flat();
    const events = await Promise.all(instances.map((id) => begin('launch', id)));
    const results = (await ctx.wait(
      `${instances.length} concurrent launch lifecycle actions -> dist/index.mjs`,
      Promise.all(events.map((e) => handler(e, context(90_000)))),
    )) as { status: string; instanceId: string; privateIp?: string; hostname?: string; attempts?: number }[];
    const enis = await poolEnis();
    const holders = enis
      .map((ni) => ni.Attachment?.InstanceId)
      .filter((id): id is string => id !== undefined);
    const tags =
      (await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['HostName'] }] }))).Tags ??
      [];
    const table = results.map((r) => ({
      instance: r.instanceId,
      az: enis.find((ni) => ni.Attachment?.InstanceId === r.instanceId)?.AvailabilityZone ?? '-',
      ip: r.privateIp ?? '-',
      hostname: r.hostname ?? '-',
      instanceTag: tags.find((t) => t.ResourceId === r.instanceId)?.Value ?? '-',
      attempts: r.attempts ?? 0,
    }));
    for (const row of [...table].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }))) {
      ctx.step(
        `  ${row.instance}  ${row.az}  ${row.ip.padEnd(10)}  ${row.hostname}  (attach attempts ${row.attempts})`,
      );
    }
    checks.everyLaunchAttached = results.every((r) => r.status === 'done');
    checks.oneEniPerInstance =
      new Set(holders).size === instances.length && holders.length === instances.length;
    checks.ownAz = instances.every((id, i) => {
      const ni = enis.find((e) => e.Attachment?.InstanceId === id);
      return ni?.AvailabilityZone === azs[Math.floor(i / perAz)];
    });
    checks.hostnameTagged = table.every((r) => r.hostname !== '-' && r.instanceTag === r.hostname);
    checks.deleteOnTerminationOff = enis.every((ni) => ni.Attachment?.DeleteOnTermination === false);

    // 2. One launch more than the pool holds in the first AZ: ABANDON, nothing taken from others.
    const { handler: shortHandler } = await ctx.loadBundle<{ handler: BundleHandler }>('index', {
      ...env,
      ATTACH_TIMEOUT_SECONDS: ctx.fast ? '2' : '5',
    });
    const [extra] = await launch(ec2, zones[0]!.subnetId, 1);
    const abandoned = (await ctx.wait(
      `Launch #${instances.length + 1} in ${azs[0]} while its pool is empty (waits ATTACH_TIMEOUT_SECONDS)`,
      shortHandler(await begin('launch', extra!), context(60_000)),
    )) as { status: string; reason?: string };
    ctx.step(`  -> ${abandoned.status}: ${abandoned.reason ?? ''}`);
    const afterAbandon = await poolEnis();
    checks.extraAbandoned =
      abandoned.status === 'abandoned' &&
      (await emulator.lifecycle.completions()).some(
        (c) => c.instanceId === extra && c.result === 'ABANDON',
      ) &&
      afterAbandon.every((ni) => ni.Attachment?.InstanceId !== extra);
    await terminate(ec2, [extra!]);

    // 3. Redelivery of every launch event changes nothing.
    const before = JSON.stringify(
      afterAbandon.map((ni) => [ni.NetworkInterfaceId, ni.Attachment?.InstanceId]),
    );
    await emulator.resetCalls();
    const redelivered = (await ctx.wait(
      'Redelivering every launch event',
      Promise.all(events.map((e) => handler(e, context(60_000)))),
    )) as { status: string }[];
    const redeliveryCalls = await emulator.calls();
    checks.redeliveryChangesNothing =
      // The actions were completed: the heartbeat before any change finds them inactive.
      redelivered.every((r) => r.status === 'ended') &&
      redeliveryCalls['ec2:AttachNetworkInterface'] === undefined &&
      JSON.stringify((await poolEnis()).map((ni) => [ni.NetworkInterfaceId, ni.Attachment?.InstanceId])) ===
        before;
    ctx.step(
      `  -> ${redelivered.length} x inactive (actions already completed), AttachNetworkInterface calls: 0`,
    );

    // 4. Terminate hook on the holder of the lowest address: the ENI goes back to the pool.
    const lowest = results.find((r) => r.privateIp === zones[0]!.pool[0]!.privateIp)!;
    const detached = (await ctx.wait(
      `Terminate lifecycle action for ${lowest.instanceId} (${lowest.privateIp})`,
      handler(await begin('terminate', lowest.instanceId), context(60_000)),
    )) as { status: string; networkInterfaceIds?: string[] };
    await terminate(ec2, [lowest.instanceId]);
    checks.terminateReturnsEni = detached.status === 'done' && detached.networkInterfaceIds?.length === 1;

    // 5. The on-instance agent (dist/agent.mjs) on a new instance, with a local IMDSv2 stand-in.
    const [agentInstance] = await launch(ec2, zones[0]!.subnetId, 1);
    const imds = await startImdsFixture({ instanceId: agentInstance!, availabilityZone: azs[0]! });
    let agent: { code: number; report: Record<string, unknown> };
    try {
      agent = await ctx.wait(
        'node dist/agent.mjs --no-hostname (IMDSv2 stand-in)',
        runAgentBundle(ctx, imds.endpoint),
      );
      checks.agentImdsV2Only =
        imds.requests.length > 0 && imds.requests.every((r) => r.method === 'PUT' || r.authorized);
    } finally {
      await imds.close();
    }
    ctx.step(`  agent: ${JSON.stringify(agent.report)}`);
    checks.agentTookFreedLowestIp =
      agent.code === 0 &&
      agent.report.status === 'attached' &&
      agent.report.privateIp === lowest.privateIp &&
      agent.report.hostname === lowest.hostname;

    const failed = Object.entries(checks)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    const attempts = results.reduce((n, r) => n + (r.attempts ?? 0), 0);
    return {
      ok: failed.length === 0,
      summary:
        failed.length === 0
          ? `${instances.length} launches got ${instances.length} distinct fixed IPs (${(attempts / instances.length).toFixed(2)} attach attempts each), 1 ABANDON, redelivery no-op, agent took ${String(agent.report.privateIp)}`
          : `failed checks: ${failed.join(', ')}`,
      details: { checks, launches: table, abandoned, agent: agent.report },
    };
  },
};

export default scenario;
