#!/usr/bin/env node
// Sweep orphaned ENIs from a shell, with the caller's credentials:
//   SWEEP_DRY_RUN=true AWS_REGION=ap-northeast-1 node packages/eni-attach/dist/sweep-cli.mjs
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { ConfigError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { Deadline, systemClock } from '@netkit/aws-core/retry';
import { loadSweeperConfig } from './config.ts';
import { sweepOrphans } from './sweep.ts';

try {
  const config = loadSweeperConfig(process.env);
  const report = await sweepOrphans(
    config,
    { ec2: createClient(EC2Client), logger: silentLogger, clock: systemClock },
    Deadline.in(5 * 60_000),
  );
  console.log(JSON.stringify({ dryRun: config.dryRun, ...report }, null, 2));
  process.exitCode = report.failed.length > 0 ? 1 : 0;
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exitCode = 2;
}
