import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Emulator } from '@netkit/local-aws';
import { fakeContext, lifecycleEvent } from '@netkit/testing';
import { loadConfig } from '../../src/config.ts';
import { createHandler } from '../../src/create-handler.ts';
import { createSubnetCatalog } from '../../src/subnets.ts';
import { recordingMetrics } from './metrics.ts';

export const GROUP = 'web-asg';
export const HOOK = 'eni-attach-launch';

/** The launch handler wired to the emulator with the real SDK, as handler.ts wires it to AWS. */
export function emulatorHandler(emu: Emulator, env: Record<string, string>) {
  const config = loadConfig({ AUTO_SCALING_GROUP_NAME: GROUP, ...env });
  const ec2 = new EC2Client({ ...emu.clientConfig, maxAttempts: 1 });
  const autoscaling = new AutoScalingClient({ ...emu.clientConfig, maxAttempts: 1 });
  const handler = createHandler(
    {
      ec2,
      autoscaling,
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
