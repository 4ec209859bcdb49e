import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics, type Metrics } from '@netkit/aws-core/metrics';
import { createObservability, type Logger } from '@netkit/aws-core/observability';
import { type Clock, systemClock } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';

/** What both handlers use; tests inject fakes. */
export interface LeaseDeps {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  ecs: ECSClient;
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

/** What both Lambda entries build once per container; an invalid configuration throws at init. */
export function lambdaRuntime(loadConfig: () => Config, serviceName: string) {
  const { logger, tracer } = createObservability(serviceName);
  const config = loadConfig();
  const deps: LeaseDeps = {
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
