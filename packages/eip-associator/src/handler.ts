import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics } from '@netkit/aws-core/metrics';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { loadConfig } from './config.ts';
import { createHandler } from './create-handler.ts';

const SERVICE = 'eip-associator';
const { logger, tracer } = createObservability(SERVICE);
// Invalid configuration throws ConfigError here, at init, naming the variable: no event is processed.
const config = loadConfig();

export const handler = createHandler(
  {
    ec2: createClient(EC2Client, { tracer }),
    autoscaling: createClient(AutoScalingClient, { tracer }),
    logger,
    clock: systemClock,
    metrics: createMetrics(SERVICE),
  },
  config,
);
