import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { createObservability } from '@netkit/aws-core/observability';
import { systemClock } from '@netkit/aws-core/retry';
import { loadConfigOrError } from './config.ts';
import { createHandler } from './create-handler.ts';

const { logger, tracer } = createObservability('nat-reaper');
// An invalid configuration is logged here, at init; Create and Update are then answered FAILED naming it.
const config = loadConfigOrError(process.env, logger);

export const handler = createHandler(
  {
    ec2: createClient(EC2Client, { tracer }),
    cfn: createClient(CloudFormationClient, { tracer }),
    logger,
    clock: systemClock,
  },
  config,
);
