// The on-instance agent: `node agent.mjs [--dry-run] [--no-hostname] [--on-failure shutdown|exit]`.
// A single file with no Powertools; runs main() when executed.
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { ValidationError } from '@netkit/aws-core/errors';
import { systemClock } from '@netkit/aws-core/retry';
import { execRunner } from './hostname.ts';
import { Imds } from './imds.ts';
import { AGENT_USAGE, parseAgentArgs, stderrLogger } from './parse-agent-args.ts';
import { EXIT, runAgent } from './run-agent.ts';

async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    const parsed = parseAgentArgs(argv, env);
    if (parsed.help) {
      process.stdout.write(`${AGENT_USAGE}\n`);
      return EXIT.OK;
    }
    // runAgent never throws: every outcome is a report.
    const report = await runAgent(parsed.options, {
      imds: new Imds({ env }),
      ec2: (region) => createClient(EC2Client, { region, env }),
      run: execRunner,
      clock: systemClock,
      logger: stderrLogger(),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.exitCode;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const report = { status: 'failed', exitCode: EXIT.USAGE, error: error.message };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.stderr.write(`${error.message}\n`);
    return EXIT.USAGE;
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
