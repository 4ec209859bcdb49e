import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { hookEntryDeps } from '@netkit/aws-core/lifecycle-hook';
import { loadConfig } from './config.ts';
import { createHandler } from './create-handler.ts';
import { SERVICE_NAME } from './naming.ts';
import { createSubnetCatalog } from './subnets.ts';

// Built once per container: an invalid configuration throws ConfigError here, before any event.
const deps = hookEntryDeps(SERVICE_NAME);
const config = loadConfig(process.env);
const ec2 = createClient(EC2Client, { tracer: deps.tracer });

export const handler = createHandler(
  { ...deps, ec2, catalog: createSubnetCatalog(config.attachments) },
  config,
);
