import { resolve } from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Emulator } from '@netkit/local-aws';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { type Config, loadConfig } from '../../src/config.ts';
import { createHandler } from '../../src/create-handler.ts';
import { createSubnetCatalog } from '../../src/subnets.ts';
import { recordingMetrics } from './metrics.ts';

export const GROUP = 'web-asg';
export const HOOK = 'eni-attach-launch';

export const TEMPLATE = resolve(import.meta.dirname, '../../../../infra/eni-attach/template.yaml');

/** The template's parameters for a configuration: the group, the hook, its subnets and groups. */
export function templateParameters(config: Config): Record<string, string | string[]> {
  return {
    AutoScalingGroupName: GROUP,
    LaunchHookName: HOOK,
    SubnetIds: [...new Set(config.attachments.flatMap((a) => Object.values(a.subnetMap)))],
    SecurityGroupIds: [...new Set(config.attachments.flatMap((a) => a.securityGroupIds))],
  };
}

/** The launch function under its template's policy, for a two-VPC world's target subnets and group. */
export function registerLaunchFunction(
  emu: Emulator,
  world: { targetSubnets: Record<string, string>; targetSecurityGroupId: string },
) {
  return emu.iam.registerFromTemplate({
    template: TEMPLATE,
    logicalId: 'LaunchFunction',
    parameters: {
      AutoScalingGroupName: GROUP,
      LaunchHookName: HOOK,
      SubnetIds: Object.values(world.targetSubnets),
      SecurityGroupIds: [world.targetSecurityGroupId],
    },
  });
}

/**
 * The launch handler wired to the emulator with the real SDK, as handler.ts wires it to AWS, under
 * the launch function's policy from its template (for this configuration's subnets and groups).
 * The returned `ec2` / `autoscaling` are the test's own unrestricted clients for set-up and checks.
 */
export async function emulatorHandler(emu: Emulator, env: Record<string, string>) {
  const config = loadConfig({ AUTO_SCALING_GROUP_NAME: GROUP, ...env });
  const ec2 = new EC2Client({ ...emu.clientConfig, maxAttempts: 1 });
  const autoscaling = new AutoScalingClient({ ...emu.clientConfig, maxAttempts: 1 });
  const fn = await emu.iam.registerFromTemplate({
    template: TEMPLATE,
    logicalId: 'LaunchFunction',
    parameters: templateParameters(config),
  });
  const handler = createHandler(
    {
      ec2: new EC2Client({ ...fn.clientConfig, maxAttempts: 1 }),
      autoscaling: new AutoScalingClient({ ...fn.clientConfig, maxAttempts: 1 }),
      logger: silentLogger,
      clock: systemClock,
      catalog: createSubnetCatalog(config.attachments),
      metrics: recordingMetrics(),
    },
    config,
  );
  return { handler, ec2, autoscaling };
}

/** Registers the lifecycle action with the emulator and returns the event AWS would send. */
export async function launchEvent(
  emu: Emulator,
  instanceId: string,
  kind: 'launch' | 'terminate' = 'launch',
) {
  const transition =
    kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING';
  const token = await emu.lifecycle.begin({ groupName: GROUP, hookName: HOOK, instanceId, transition });
  return lifecycleEvent(kind, { instanceId, token, groupName: GROUP, hookName: HOOK });
}

export const context = () => fakeContext(60_000);
