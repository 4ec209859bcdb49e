import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { createClient } from '@netkit/aws-core/clients';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { loadConfig } from './config.ts';
import { createReaperHandler } from './handlers.ts';

// Built once per container: configuration is validated at init (ConfigError names the variable).
const { logger, tracer } = createObservability('endpoint-lease-reaper');
const config = loadConfig();

export const handler = createReaperHandler(
  {
    cfn: createClient(CloudFormationClient, { tracer }),
    ec2: createClient(EC2Client, { tracer }),
    ecs: createClient(ECSClient, { tracer }),
    clock: systemClock,
    logger,
  },
  config,
);
