import { resolve } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { BundleHandler, Scenario, ScenarioContext } from '@netkit/demo';
import { interfacesOf, ownInterfaces, runInstances, twoVpcWorld } from './world.ts';

const GROUP = 'demo-asg';
const HOOK = 'eni-attach-launch';

/** The Lambda context the bundle sees: a fixed 60 s budget per invocation. */
function lambdaContext() {
  const start = Date.now();
  return {
    awsRequestId: `demo-${start}`,
    getRemainingTimeInMillis: () => Math.max(0, 60_000 - (Date.now() - start)),
  };
}

/** The EventBridge event Auto Scaling sends for a launch lifecycle action. */
function launchEvent(instanceId: string, token: string, region: string) {
  return {
    version: '0',
    id: `demo-${instanceId}`,
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region,
    resources: [
      `arn:aws:autoscaling:${region}:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${GROUP}`,
    ],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: GROUP,
      LifecycleHookName: HOOK,
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      Origin: 'EC2',
      Destination: 'AutoScalingGroup',
    },
  };
}

async function run(ctx: ScenarioContext) {
  const emu = ctx.emulator;
  const ec2 = new EC2Client(emu.clientConfig);
  const perAz = ctx.fast ? 2 : 4;

  const world = await ctx.wait(
    'Creating two VPCs (source, target) with a subnet in each of two AZs',
    twoVpcWorld(ec2, emu.region),
  );
  ctx.step(`SUBNET_MAP (target VPC ${world.targetVpcId}): ${JSON.stringify(world.targetSubnets)}`);
  const instances: string[] = [];
  for (const az of world.zones)
    instances.push(...(await runInstances(ec2, world.sourceSubnets[az]!, perAz, 'm5.large', GROUP)));
  ctx.step(`Group ${GROUP} launches ${instances.length} instances in ${world.zones.join(' and ')}`);

  // The bundle runs as the template's launch function: its credentials map to the template's policy.
  const fn = await emu.iam.registerFromTemplate({
    template: resolve(import.meta.dirname, '../../../infra/eni-attach/template.yaml'),
    logicalId: 'LaunchFunction',
    parameters: {
      AutoScalingGroupName: GROUP,
      LaunchHookName: HOOK,
      SubnetIds: Object.values(world.targetSubnets),
      SecurityGroupIds: [world.targetSecurityGroupId],
    },
  });
  const { handler } = await ctx.loadBundle<{ handler: BundleHandler }>('index', {
    ...fn.env,
    AUTO_SCALING_GROUP_NAME: GROUP,
    SUBNET_MAP: JSON.stringify(world.targetSubnets),
    SECURITY_GROUP_IDS: world.targetSecurityGroupId,
    DEVICE_INDEX: '1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
  });
  const events = await Promise.all(
    instances.map(async (id) =>
      launchEvent(
        id,
        await emu.lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId: id }),
        emu.region,
      ),
    ),
  );

  await emu.resetCalls();
  await ctx.wait(
    `Delivering ${events.length} launch lifecycle events at once to dist/index.mjs`,
    Promise.all(events.map((e) => handler(e, lambdaContext()))),
  );
  const firstCalls = await emu.calls();

  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instances }));
  const azOf = new Map(
    (described.Reservations ?? []).flatMap((r) =>
      (r.Instances ?? []).map((i) => [i.InstanceId!, i.Placement?.AvailabilityZone ?? ''] as const),
    ),
  );
  const rows: { instance: string; az: string; eni: string; subnet: string; ok: boolean }[] = [];
  for (const id of instances) {
    const extra = (await interfacesOf(ec2, id)).filter((e) => e.Attachment?.DeviceIndex === 1);
    const eni = extra[0];
    const az = azOf.get(id) ?? '';
    const ok =
      extra.length === 1 &&
      eni?.SubnetId === world.targetSubnets[az] &&
      eni?.VpcId === world.targetVpcId &&
      eni?.Attachment?.DeleteOnTermination === true;
    rows.push({ instance: id, az, eni: eni?.NetworkInterfaceId ?? '-', subnet: eni?.SubnetId ?? '-', ok });
    ctx.step(
      `${ok ? 'ok  ' : 'FAIL'} ${id} (${az}) -> ${eni?.NetworkInterfaceId ?? 'no ENI'} in ${eni?.SubnetId ?? '-'} at device 1`,
    );
  }
  const completions = await emu.lifecycle.completions();
  const continued = completions.filter((c) => c.result === 'CONTINUE').length;
  const before = (await ownInterfaces(ec2)).map((e) => e.NetworkInterfaceId).sort();

  await emu.resetCalls();
  await ctx.wait(
    'Redelivering every event (EventBridge and Lambda may deliver twice)',
    Promise.all(events.map((e) => handler(e, lambdaContext()))),
  );
  const redeliveryCalls = await emu.calls();
  const after = (await ownInterfaces(ec2)).map((e) => e.NetworkInterfaceId).sort();
  const unchanged = JSON.stringify(before) === JSON.stringify(after);
  const createsOnRedelivery = redeliveryCalls['ec2:CreateNetworkInterface'] ?? 0;
  ctx.step(
    `Redelivery: ${createsOnRedelivery} CreateNetworkInterface calls, ENIs ${unchanged ? 'unchanged' : 'CHANGED'} (${after.length})`,
  );

  const ec2CallsFirst = Object.entries(firstCalls)
    .filter(([k]) => k.startsWith('ec2:'))
    .reduce((n, [, v]) => n + v, 0);
  const ok =
    rows.every((r) => r.ok) &&
    continued === instances.length &&
    completions.length === instances.length &&
    unchanged &&
    createsOnRedelivery === 0;
  return {
    ok,
    summary: `${rows.filter((r) => r.ok).length}/${instances.length} instances got one ENI in the target VPC's subnet of their AZ; redelivery created ${createsOnRedelivery}`,
    details: {
      instances: rows,
      completions: completions.map((c) => ({ instanceId: c.instanceId, result: c.result })),
      ec2CallsPerLaunch: ec2CallsFirst / instances.length,
      firstDeliveryCalls: firstCalls,
      redeliveryCalls,
    },
  };
}

const scenario: Scenario = {
  name: 'eni-attach',
  title: 'eni-attach: each launching instance gets an ENI in the other VPC, exactly once',
  run,
};

export default scenario;
