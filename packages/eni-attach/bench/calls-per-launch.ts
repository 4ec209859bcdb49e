// EC2 calls per launch, redelivery and failure behaviour, and a throttled burst: eni-attach
// against the seed's Step Functions sequence (Create -> Attach -> Modify, no idempotency, no
// cleanup, no Retry), both on the local emulator.
//   npx tsx packages/eni-attach/bench/calls-per-launch.ts [--fast]
import { pathToFileURL } from 'node:url';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Benchmark, BenchOptions, BenchResult } from '@netkit/bench';
import { type Emulator, startEmulator } from '@netkit/local-aws';
import { interfacesOf, runInstances, twoVpcWorld, type World } from '../demo/world.ts';
import { loadConfig } from '../src/config.ts';
import { createHandler, type HandlerDeps } from '../src/create-handler.ts';
import { createSubnetCatalog } from '../src/subnets.ts';

const GROUP = 'bench-asg';
const HOOK = 'eni-attach-launch';

interface Fleet {
  world: World;
  instances: string[];
  azOf: Map<string, string>;
}

async function fleet(emu: Emulator, size: number): Promise<Fleet> {
  await emu.reset();
  const ec2 = new EC2Client({ ...emu.clientConfig, maxAttempts: 1 });
  const world = await twoVpcWorld(ec2, emu.region);
  const instances: string[] = [];
  const half = Math.ceil(size / 2);
  instances.push(...(await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, half)));
  if (size > half)
    instances.push(...(await runInstances(ec2, world.sourceSubnets[world.zones[1]]!, size - half)));
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instances }));
  const azOf = new Map(
    (out.Reservations ?? []).flatMap((r) =>
      (r.Instances ?? []).map((i) => [i.InstanceId!, i.Placement!.AvailabilityZone!] as const),
    ),
  );
  return { world, instances, azOf };
}

/** Outcome on the emulator's state, whatever the algorithm. */
async function audit(emu: Emulator, f: Fleet) {
  const ec2 = new EC2Client({ ...emu.clientConfig, maxAttempts: 1 });
  let missing = 0;
  let duplicates = 0;
  let wrongSubnet = 0;
  for (const id of f.instances) {
    const extra = (await interfacesOf(ec2, id)).filter((e) => (e.Attachment?.DeviceIndex ?? 0) > 0);
    if (extra.length === 0) missing++;
    if (extra.length > 1) duplicates += extra.length - 1;
    if (extra.some((e) => e.SubnetId !== f.world.targetSubnets[f.azOf.get(id)!])) wrongSubnet++;
  }
  const available = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [
        { Name: 'subnet-id', Values: Object.values(f.world.targetSubnets) },
        { Name: 'status', Values: ['available'] },
      ],
    }),
  );
  return { missing, duplicates, wrongSubnet, orphans: available.NetworkInterfaces?.length ?? 0 };
}

function sum(calls: Record<string, number>, prefix: string) {
  return Object.entries(calls)
    .filter(([k]) => k.startsWith(prefix))
    .reduce((n, [, v]) => n + v, 0);
}

function launchEvent(instanceId: string, token: string) {
  return {
    version: '0',
    id: `bench-${instanceId}`,
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2026-11-21T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: GROUP,
      LifecycleHookName: HOOK,
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    },
  };
}

const context = () => {
  const start = Date.now();
  return { getRemainingTimeInMillis: () => 120_000 - (Date.now() - start) };
};

/** One Lambda container of eni-attach (clients as createClient builds them: adaptive, 5 attempts). */
function eniAttach(emu: Emulator, f: Fleet) {
  const config = loadConfig({
    AUTO_SCALING_GROUP_NAME: GROUP,
    SUBNET_MAP: JSON.stringify(f.world.targetSubnets),
    SECURITY_GROUP_IDS: f.world.targetSecurityGroupId,
  });
  const clientConfig = { ...emu.clientConfig, maxAttempts: 5, retryMode: 'adaptive' as const };
  const handler = createHandler(
    {
      ec2: new EC2Client(clientConfig),
      autoscaling: new AutoScalingClient(clientConfig),
      logger: silentLogger,
      clock: systemClock,
      catalog: createSubnetCatalog(config.attachments),
      metrics: {
        addMetric() {},
        addDimension() {},
        publishStoredMetrics() {},
      } as unknown as HandlerDeps['metrics'],
    },
    config,
  );
  return async (_instanceId: string, event: ReturnType<typeof launchEvent>) => {
    try {
      await handler(event, context());
    } catch {
      // Rethrown transient failure: Lambda would redeliver; the audit counts what is left.
    }
  };
}

/**
 * The seed (Step Functions on "EC2 Instance Launch Successful"), re-expressed: the AZ comes from
 * the event, three SDK calls, no Retry in the state machine (a failed call fails the execution),
 * no idempotency, no cleanup, no lifecycle action.
 */
function seed(emu: Emulator, f: Fleet) {
  const ec2 = new EC2Client({ ...emu.clientConfig, maxAttempts: 1 });
  return async (instanceId: string) => {
    try {
      const created = await ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: f.world.targetSubnets[f.azOf.get(instanceId)!],
          Groups: [f.world.targetSecurityGroupId],
        }),
      );
      const eniId = created.NetworkInterface!.NetworkInterfaceId!;
      const attached = await ec2.send(
        new AttachNetworkInterfaceCommand({
          DeviceIndex: 1,
          InstanceId: instanceId,
          NetworkInterfaceId: eniId,
        }),
      );
      await ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eniId,
          Attachment: { AttachmentId: attached.AttachmentId, DeleteOnTermination: true },
        }),
      );
    } catch {
      // The execution fails; nothing cleans up.
    }
  };
}

type Algorithm = 'eni-attach' | 'seed (Step Functions)';

async function scenario(emu: Emulator, algorithm: Algorithm, size: number) {
  const f = await fleet(emu, size + 1);
  const victim = f.instances.pop()!;
  const events = new Map<string, ReturnType<typeof launchEvent>>();
  for (const id of [...f.instances, victim]) {
    events.set(
      id,
      launchEvent(id, await emu.lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId: id })),
    );
  }
  const run = algorithm === 'eni-attach' ? eniAttach(emu, f) : seed(emu, f);
  const deliver = (ids: string[]) => Promise.all(ids.map((id) => run(id, events.get(id)!)));

  await emu.resetCalls();
  await deliver(f.instances);
  const first = await emu.calls();
  const validation = (first['ec2:DescribeSubnets'] ?? 0) + (first['ec2:DescribeSecurityGroups'] ?? 0);

  await emu.resetCalls();
  await deliver(f.instances);
  const again = await emu.calls();
  const afterRedelivery = await audit(emu, { ...f });

  await emu.injectFault({
    service: 'ec2',
    action: 'AttachNetworkInterface',
    code: 'AttachmentLimitExceeded',
  });
  const orphansBefore = afterRedelivery.orphans;
  await deliver([victim]);
  const afterFailure = await audit(emu, { ...f, instances: [victim] });
  const completions = await emu.lifecycle.completions();

  return {
    algorithm,
    launches: size,
    ec2PerLaunch: (sum(first, 'ec2:') - validation) / size,
    validationCalls: validation,
    completionsPerLaunch: sum(first, 'autoscaling:CompleteLifecycleAction') / size,
    ec2PerRedelivery: sum(again, 'ec2:') / size,
    createsOnRedelivery: again['ec2:CreateNetworkInterface'] ?? 0,
    duplicatesAfterRedelivery: afterRedelivery.duplicates,
    orphansAfterRedelivery: afterRedelivery.orphans,
    orphansAfterFailedAttach: afterFailure.orphans - orphansBefore,
    failedLaunchOutcome:
      completions.find((c) => c.instanceId === victim)?.result ??
      'no lifecycle action: instance stays InService without its ENI',
  };
}

async function burst(emu: Emulator, algorithm: Algorithm, size: number, burstScale: number) {
  const f = await fleet(emu, size);
  const events = new Map<string, ReturnType<typeof launchEvent>>();
  for (const id of f.instances) {
    events.set(
      id,
      launchEvent(id, await emu.lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId: id })),
    );
  }
  await emu.configure({ throttle: { scale: 1, burst: burstScale } });
  await emu.resetCalls();
  // As Lambda runs a burst: one container (clients, subnet validation) per concurrent launch.
  const run =
    algorithm === 'eni-attach'
      ? (id: string, event: ReturnType<typeof launchEvent>) => eniAttach(emu, f)(id, event)
      : seed(emu, f);
  const started = performance.now();
  await Promise.all(f.instances.map((id) => run(id, events.get(id)!)));
  const wallSeconds = (performance.now() - started) / 1000;
  const throttled = sum(await emu.throttled(), '');
  const calls = sum(await emu.calls(), 'ec2:');
  await emu.configure({ throttle: false });
  const outcome = await audit(emu, f);
  // Token-bucket lower bound: every action's excess over its bucket, at its refill rate.
  const bucket = (capacity: number, refill: number, perLaunch: number) =>
    Math.max(0, size * perLaunch - Math.floor(capacity * burstScale)) / refill;
  // eni-attach per launch: DescribeNetworkInterfaces, DescribeSubnets, DescribeSecurityGroups,
  // DescribeInstances (filtered: 100/20 each), Create, Modify (100/5), Attach (50/5), Complete (50/10).
  const lowerBound =
    algorithm === 'eni-attach'
      ? Math.max(bucket(100, 20, 1), bucket(100, 5, 1), bucket(50, 5, 1), bucket(50, 10, 1))
      : Math.max(bucket(100, 5, 1), bucket(50, 5, 1));
  return { algorithm, launches: size, wallSeconds, lowerBound, throttled, calls, ...outcome };
}

const benchmark: Benchmark = async ({ fast = false }: BenchOptions): Promise<BenchResult> => {
  const emu = await startEmulator();
  try {
    const size = fast ? 5 : 50;
    const burstSize = fast ? 12 : 200;
    // Fast runs shrink the buckets (not the refill rates) so a small burst still meets throttling.
    const burstScale = fast ? 0.1 : 1;
    const rows = [
      await scenario(emu, 'eni-attach', size),
      await scenario(emu, 'seed (Step Functions)', size),
    ];
    const bursts = [
      await burst(emu, 'eni-attach', burstSize, burstScale),
      await burst(emu, 'seed (Step Functions)', burstSize, burstScale),
    ];
    const ours = rows[0]!;
    const oursBurst = bursts[0]!;
    const fmt = (n: number) => Number(n.toFixed(2));
    return {
      name: 'eni-attach-calls',
      title: 'eni-attach: EC2 calls per launch, redelivery, failure and throttled burst vs the seed',
      tables: [
        {
          columns: [
            'algorithm',
            'launches',
            'EC2 calls / launch',
            'completion calls / launch',
            'EC2 calls / redelivery',
            'creates on redelivery',
            'duplicate ENIs',
            'orphans after redelivery',
            'orphans after failed attach',
            'failed launch outcome',
          ],
          rows: rows.map((r) => [
            r.algorithm,
            r.launches,
            fmt(r.ec2PerLaunch),
            fmt(r.completionsPerLaunch),
            fmt(r.ec2PerRedelivery),
            r.createsOnRedelivery,
            r.duplicatesAfterRedelivery,
            r.orphansAfterRedelivery,
            r.orphansAfterFailedAttach,
            r.failedLaunchOutcome,
          ]),
        },
        {
          columns: [
            'throttled burst',
            'launches',
            'wall s',
            'bucket lower bound s',
            'EC2 calls',
            'throttled calls',
            'missing',
            'duplicates',
            'orphans',
          ],
          rows: bursts.map((b) => [
            b.algorithm,
            b.launches,
            fmt(b.wallSeconds),
            fmt(b.lowerBound),
            b.calls,
            b.throttled,
            b.missing,
            b.duplicates,
            b.orphans,
          ]),
        },
      ],
      data: { scenario: rows, bursts, validationCallsPerContainer: ours.validationCalls, fast },
      targets: [
        {
          description: '<= 5 EC2 calls per launch (describe x2, create, attach, modify) plus 1 completion',
          met: ours.ec2PerLaunch <= 5 && ours.completionsPerLaunch === 1,
          measured: `${fmt(ours.ec2PerLaunch)} EC2 + ${fmt(ours.completionsPerLaunch)} completion (+${ours.validationCalls} per container)`,
        },
        {
          description: 'a redelivered event creates nothing and leaves one ENI per instance',
          met:
            ours.createsOnRedelivery === 0 &&
            ours.duplicatesAfterRedelivery === 0 &&
            ours.orphansAfterRedelivery === 0,
          measured: `${ours.createsOnRedelivery} creates, ${ours.duplicatesAfterRedelivery} duplicates, ${ours.orphansAfterRedelivery} orphans`,
        },
        {
          description: 'a failed attach leaves no ENI behind and abandons the launch',
          met: ours.orphansAfterFailedAttach === 0 && ours.failedLaunchOutcome === 'ABANDON',
          measured: `${ours.orphansAfterFailedAttach} orphans, ${ours.failedLaunchOutcome}`,
        },
        {
          description: `throttled burst of ${burstSize}: every instance gets exactly one ENI, no orphan`,
          met: oursBurst.missing === 0 && oursBurst.duplicates === 0 && oursBurst.orphans === 0,
          measured: `${oursBurst.missing} missing, ${oursBurst.duplicates} duplicates, ${oursBurst.orphans} orphans in ${fmt(oursBurst.wallSeconds)} s (lower bound ${fmt(oursBurst.lowerBound)} s)`,
        },
      ],
    };
  } finally {
    await emu.stop();
  }
};

export default benchmark;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchmark({ fast: process.argv.includes('--fast') });
  for (const table of result.tables) {
    console.log(`\n| ${table.columns.join(' | ')} |\n|${table.columns.map(() => ' --- ').join('|')}|`);
    for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
  }
  console.log('');
  for (const t of result.targets)
    console.log(`${t.met ? 'met    ' : 'MISSED '} ${t.description}: ${t.measured}`);
  process.exitCode = result.targets.every((t) => t.met) ? 0 : 1;
}
