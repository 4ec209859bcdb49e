import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { hookEntryDeps } from '@netkit/aws-core/lifecycle-hook';
import { loadConfig } from './config.ts';
import { createHandler } from './create-handler.ts';

const deps = hookEntryDeps('eip-associator');
// Invalid configuration throws ConfigError here, at init, naming the variable: no event is processed.
const config = loadConfig();

export const handler = createHandler(
  { ...deps, ec2: createClient(EC2Client, { tracer: deps.tracer }) },
  config,
);
