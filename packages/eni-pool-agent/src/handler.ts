import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { hookEntryDeps } from '@netkit/aws-core/lifecycle-hook';
import { loadConfig } from './config.ts';
import { createHandler } from './create-handler.ts';

const deps = hookEntryDeps('eni-pool-agent');
// Invalid configuration throws ConfigError here, at init, naming every bad variable.
const config = loadConfig(process.env);

export const handler = createHandler(
  { ...deps, ec2: createClient(EC2Client, { tracer: deps.tracer }) },
  config,
);
