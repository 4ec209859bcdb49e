import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { createMetrics } from '@netkit/aws-core/metrics';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { loadSweeperConfig } from './config.ts';
import { createSweeperHandler } from './create-sweeper-handler.ts';
import { SERVICE_NAME } from './naming.ts';

const { logger, tracer } = createObservability(`${SERVICE_NAME}-sweeper`);
const config = loadSweeperConfig(process.env);

export const handler = createSweeperHandler(
  {
    ec2: createClient(EC2Client, { tracer }),
    logger,
    clock: systemClock,
    metrics: createMetrics(`${SERVICE_NAME}-sweeper`),
  },
  config,
);
