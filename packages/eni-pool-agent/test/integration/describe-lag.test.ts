import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { tagFilters } from '@netkit/aws-core/tags';
import { type BundleHandler, importBundle } from '@netkit/demo';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { distDir, ensureBuilt } from '../support/dist.ts';
import { buildWorld, GROUP, HOOK, launch, POOL_TAGS } from '../support/world.ts';

// EC2 Describe calls are eventually consistent: for a few seconds after RunInstances the emulator
// answers DescribeInstances with NotFound and DescribeNetworkInterfaces(attachment.instance-id)
// with nothing, as AWS may.
const emu = useEmulator({ region: 'ap-northeast-1', describeLagMs: 4_000 });

beforeAll(() => ensureBuilt(), 240_000);

describe('Lambda mode (built bundle) while EC2 Describe lags behind the launch', () => {
  it('gives 8 launches that Describe does not see for 4 s one pool ENI each, all CONTINUE', async () => {
    // Prepare
    const ec2 = new EC2Client(emu().clientConfig);
    const [zone] = await buildWorld(ec2, ['ap-northeast-1a'], 8);
    const { handler } = await importBundle<{ handler: BundleHandler }>(distDir, 'index', {
      ...emu().env,
      ENI_POOL_TAGS: JSON.stringify(POOL_TAGS),
      ATTACH_TIMEOUT_SECONDS: '40',
      AUTO_SCALING_GROUP_NAME: GROUP,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    const instances = await launch(ec2, zone!.subnetId, 8);
    const events = await Promise.all(
      instances.map(async (instanceId) => {
        const token = await emu().lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId });
        return lifecycleEvent('launch', { instanceId, token, groupName: GROUP, hookName: HOOK });
      }),
    );

    // Act
    const results = (await Promise.all(events.map((e) => handler(e, fakeContext(60_000))))) as {
      status: string;
    }[];

    // Assess
    expect(results.map((r) => r.status)).toEqual(instances.map(() => 'done'));
    await emu().configure({ describeLagMs: 0 });
    const enis =
      (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: tagFilters(POOL_TAGS) })))
        .NetworkInterfaces ?? [];
    const owners = enis.map((e) => e.Attachment?.InstanceId).filter((id) => id !== undefined);
    expect(owners.sort()).toEqual([...instances].sort());
    const completions = await emu().lifecycle.completions();
    expect(completions.map((c) => c.result)).toEqual(instances.map(() => 'CONTINUE'));
  }, 240_000);
});
