import { parseArgs } from 'node:util';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { ConfigError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { Deadline, systemClock } from '@netkit/aws-core/retry';
import { loadSweeperConfig } from './config.ts';
import { type SweepDeps, sweepOrphans } from './sweep.ts';

export const SWEEP_USAGE = `Usage: node sweep-cli.mjs [--apply] [--region R] [--help]

Finds the ENIs eni-attach created that are available (attached to nothing) and older than the
grace period, with the caller's credentials. A dry run by default: it prints what it would delete
and changes nothing. --apply deletes them (at most SWEEP_MAX_DELETES per run).

  --apply        delete the orphans (SWEEP_DRY_RUN=true still wins: nothing is deleted)
  --region R     default: the SDK's (AWS_REGION, then the profile)
  -h, --help     this text

Environment: SWEEP_GRACE_MINUTES, SWEEP_MAX_DELETES, LAUNCH_RULE_MAX_EVENT_AGE_SECONDS,
LAUNCH_MAX_EVENT_AGE_SECONDS, LAUNCH_FUNCTION_TIMEOUT_SECONDS (see the package README).
Prints a JSON report. Exit codes: 0 ok, 1 a deletion failed, 2 bad usage or configuration.`;

export async function runSweepCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: { out(text: string): void; err(text: string): void },
  makeEc2: (region: string | undefined) => SweepDeps['ec2'] = (region) =>
    createClient(EC2Client, { region, env }),
): Promise<number> {
  let values: { apply?: boolean; region?: string; help?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: {
        apply: { type: 'boolean' },
        region: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${SWEEP_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${SWEEP_USAGE}\n`);
    return 0;
  }
  try {
    const loaded = loadSweeperConfig(env);
    const config = { ...loaded, dryRun: loaded.dryRun || values.apply !== true };
    const deps = { ec2: makeEc2(values.region), logger: silentLogger, clock: systemClock };
    const report = await sweepOrphans(config, deps, Deadline.in(5 * 60_000));
    io.out(`${JSON.stringify({ dryRun: config.dryRun, ...report }, null, 2)}\n`);
    if (config.dryRun && report.wouldDelete.length > 0)
      io.err('dry run: nothing deleted; pass --apply to delete\n');
    return report.failed.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
