import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics } from '@netkit/aws-core/metrics';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';

/** The `service` dimension of the package's metrics (the template's alarm names it). */
export const METRICS_SERVICE = 'endpoint-lease';

/**
 * What both Lambda entries build once per container: clients, logger and the configuration,
 * validated at init (an invalid value throws ConfigError naming the variable).
 */
export function lambdaRuntime(
  loadConfig: () => Config,
  serviceName: string,
): {
  deps: AcquireHandlerDeps;
  config: Config;
} {
  const { logger, tracer } = createObservability(serviceName);
  const config = loadConfig();
  return {
    deps: {
      cfn: createClient(CloudFormationClient, { tracer }),
      ec2: createClient(EC2Client, { tracer }),
      ecs: createClient(ECSClient, { tracer }),
      clock: systemClock,
      logger,
      // One metric dimension for both functions, so one alarm covers a DELETE_FAILED either meets.
      metrics: createMetrics(METRICS_SERVICE),
    },
    config,
  };
}
