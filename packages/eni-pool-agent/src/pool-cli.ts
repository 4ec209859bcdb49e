// dist/pool.mjs: the pool management CLI.
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { systemClock } from '@netkit/aws-core/retry';
import { stderrLogger } from './parse-agent-args.ts';
import { runPoolCli } from './run-pool-cli.ts';

process.exitCode = await runPoolCli(
  process.argv.slice(2),
  { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
  (region) => ({ ec2: createClient(EC2Client, { region }), clock: systemClock, logger: stderrLogger() }),
);
