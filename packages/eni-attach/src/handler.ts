import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics } from '@netkit/aws-core/metrics';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { loadConfig } from './config.ts';
import { createHandler } from './create-handler.ts';
import { SERVICE_NAME } from './naming.ts';
import { createSubnetCatalog } from './subnets.ts';

// Built once per container: an invalid configuration throws ConfigError here, before any event.
const { logger, tracer } = createObservability(SERVICE_NAME);
const config = loadConfig(process.env);

export const handler = createHandler(
  {
    ec2: createClient(EC2Client, { tracer }),
    autoscaling: createClient(AutoScalingClient, { tracer }),
    logger,
    clock: systemClock,
    catalog: createSubnetCatalog(config.attachments),
    metrics: createMetrics(SERVICE_NAME),
  },
  config,
);
