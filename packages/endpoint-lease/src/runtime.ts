import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics } from '@netkit/aws-core/metrics';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';

/** What both Lambda entries build once per container; an invalid configuration throws at init. */
export function lambdaRuntime(loadConfig: () => Config, serviceName: string) {
  const { logger, tracer } = createObservability(serviceName);
  const config = loadConfig();
  const deps: AcquireHandlerDeps = {
    cfn: createClient(CloudFormationClient, { tracer }),
    ec2: createClient(EC2Client, { tracer }),
    ecs: createClient(ECSClient, { tracer }),
    clock: systemClock,
    logger,
    // One metric service for both functions, so one alarm covers a DELETE_FAILED either meets.
    metrics: createMetrics('endpoint-lease'),
  };
  return { deps, config };
}
