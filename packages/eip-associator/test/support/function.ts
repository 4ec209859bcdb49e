import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_MODE } from '@netkit/aws-core/clients';
import { silentLogger } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Emulator, FunctionIdentity } from '@netkit/local-aws';
import { useFunction } from '@netkit/local-aws/vitest';
import { loadConfig } from '../../src/config.ts';
import { createHandler } from '../../src/create-handler.ts';
import {
  GROUP,
  HOOK,
  POOL_TAGS,
  TEMPLATE,
  TEMPLATE_PARAMETERS,
  TERMINATE_HOOK,
  unreadMetrics,
} from './fleet.ts';

export { TEMPLATE, TEMPLATE_PARAMETERS };

/** The function's identity under its template's policy (the handler's clients use it). */
export function useAssociatorFunction(emu: () => Emulator): () => FunctionIdentity {
  return useFunction(emu, { template: TEMPLATE, logicalId: 'Function', parameters: TEMPLATE_PARAMETERS });
}

/** The handler as handler.ts builds it (the package's default SDK retry settings), as `identity`. */
export function associatorHandler(identity: FunctionIdentity) {
  const clients = {
    ...identity.clientConfig,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    retryMode: DEFAULT_RETRY_MODE,
  };
  return createHandler(
    {
      ec2: new EC2Client(clients),
      autoscaling: new AutoScalingClient(clients),
      logger: silentLogger,
      clock: systemClock,
      metrics: unreadMetrics,
    },
    loadConfig({
      EIP_POOL_TAGS: JSON.stringify(POOL_TAGS),
      AUTO_SCALING_GROUP_NAME: GROUP,
      LIFECYCLE_HOOK_NAMES: `${HOOK},${TERMINATE_HOOK}`,
    }),
  );
}
