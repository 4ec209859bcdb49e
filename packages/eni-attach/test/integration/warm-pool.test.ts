import { StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { useEmulator } from '@netkit/local-aws/vitest';
import { lifecycleEvent } from '@netkit/testing';
import { describe, expect, it } from 'vitest';
import { interfacesOf, ownInterfaces, runInstances, twoVpcWorld } from '../../demo/world.ts';
import type { LaunchReport } from '../../src/handle-launch.ts';
import { context, emulatorHandler, GROUP, HOOK } from '../support/harness.ts';

const emu = useEmulator();

// Warm pools (EC2 Auto Scaling User Guide, "Use lifecycle hooks with a warm pool"): a launch hook
// runs when the instance enters the warm pool (Destination WarmPool) and again when it leaves it
// for the group (Origin WarmPool, Destination AutoScalingGroup), each with its own token. An ENI
// stays attached while an instance is stopped, so eni-attach attaches on entry and only checks on exit.
describe('warm pool: entering, stopped, leaving (emulator)', () => {
  it('attaches the ENI when the instance enters the warm pool and keeps that one ENI, no second create, when it leaves', async () => {
    // Prepare
    const { ec2 } = await emulatorHandler(emu(), {
      SUBNET_MAP: '{"us-east-1a":"subnet-00000000"}',
      SECURITY_GROUP_IDS: 'sg-00000000',
    });
    const world = await twoVpcWorld(ec2, emu().region);
    const env = {
      SUBNET_MAP: JSON.stringify(world.targetSubnets),
      SECURITY_GROUP_IDS: world.targetSecurityGroupId,
    };
    const hook = await (await emulatorHandler(emu(), env)).handler;
    const [instanceId] = await runInstances(ec2, world.sourceSubnets[world.zones[0]]!, 1);
    const event = async (origin: string, destination: string) => {
      const token = await emu().lifecycle.begin({
        groupName: GROUP,
        hookName: HOOK,
        instanceId: instanceId!,
      });
      return lifecycleEvent('launch', {
        instanceId: instanceId!,
        token,
        groupName: GROUP,
        hookName: HOOK,
        origin,
        destination,
      });
    };

    // Act: entering the warm pool, then stopped there, then started and leaving it for the group
    const entering = (await hook(await event('EC2', 'WarmPool'), context())) as LaunchReport;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId!] }));
    await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId!] }));
    await emu().resetCalls();
    const leaving = (await hook(await event('WarmPool', 'AutoScalingGroup'), context())) as LaunchReport;

    // Assess
    expect(entering).toMatchObject({ result: 'CONTINUE', interfaces: [{ source: 'created' }] });
    expect(leaving).toMatchObject({ result: 'CONTINUE', interfaces: [{ source: 'existing' }] });
    expect(leaving.interfaces[0]!.networkInterfaceId).toBe(entering.interfaces[0]!.networkInterfaceId);
    const calls = await emu().calls();
    expect(calls['ec2:CreateNetworkInterface'] ?? 0).toBe(0);
    expect(calls['ec2:AttachNetworkInterface'] ?? 0).toBe(0);
    const attached = (await interfacesOf(ec2, instanceId!)).filter((e) => e.Attachment?.DeviceIndex === 1);
    expect(attached).toHaveLength(1);
    expect(await ownInterfaces(ec2)).toHaveLength(1);
    expect((await emu().lifecycle.completions()).map((c) => c.result)).toEqual(['CONTINUE', 'CONTINUE']);
  }, 120_000);
});
