// `pnpm run doctor <package> --asg <group> [--region <r>] [--stack <name> | --env <env>] [--json]`
//
// Read-only: reads the group, its lifecycle hooks, the package's deployed stack and function, and what
// the package depends on, then reports each misconfiguration with the setting, what it should be and
// how to fix it. Exit 0 with no findings, 1 with findings, 2 on a usage error.
import { join } from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { asString, readSamConfig, SamConfigError } from '../samconfig.ts';
import { INFRA_DIR } from '../tools.ts';
import { type DoctorFinding, diagnose, formatFindings, GROUP_PACKAGES } from './checks.ts';
import { collect, type DoctorClients, DoctorUsageError } from './collect.ts';

export const USAGE =
  'usage: pnpm run doctor <package> --asg <group> [--region <region>] [--stack <name> | --env <env>] [--json]';
export const HELP = `${USAGE}

Checks, without changing anything, that an Auto Scaling group and the deployed ${Object.keys(GROUP_PACKAGES).join(' / ')}
stack that serves it are configured the way the package needs: the launch hook exists with DefaultResult ABANDON
and a HeartbeatTimeout above the function's wait, the pool covers the group's MaxSize (per AZ for ENIs), every AZ
of the group is in SUBNET_MAP, instance metadata tags are on when pool ENIs carry hostnames. Before the stack is
deployed (a preflight), the hooks are checked against the function infra/<package>/template.yaml deploys with its
parameter defaults.

  <package>        ${Object.keys(GROUP_PACKAGES).join(', ')}
  --asg <group>    the Auto Scaling group name
  --region <r>     default: the SDK's (AWS_REGION, else the region of AWS_PROFILE's profile)
  --stack <name>   the package's stack; default: stack_name of --env in infra/<package>/samconfig.toml
  --env <env>      samconfig environment for the stack name (default: default)
  --json           print {"findings":[...]} for machines

Only Describe/List/Get calls are made. Exit 0: no findings; 1: findings; 2: usage error.`;

export interface DoctorOptions {
  packageName: string;
  groupName: string;
  region?: string;
  stack?: string;
  env: string;
  json: boolean;
}

export function parseArgs(argv: readonly string[]): DoctorOptions | 'help' {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue; // pnpm passes it through
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--json') json = true;
    else if (['--asg', '--region', '--stack', '--env'].includes(arg)) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--') || value === '') {
        throw new DoctorUsageError(`${arg} needs a value\n${USAGE}`);
      }
      values[arg] = value;
      i++;
    } else if (arg.startsWith('-')) throw new DoctorUsageError(`unknown option ${arg}\n${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new DoctorUsageError(`name exactly one package\n${USAGE}`);
  const packageName = positional[0] as string;
  if (GROUP_PACKAGES[packageName] === undefined) {
    throw new DoctorUsageError(
      `doctor checks ${Object.keys(GROUP_PACKAGES).join(', ')} against an Auto Scaling group; '${packageName}' is not one of them\n${USAGE}`,
    );
  }
  const groupName = values['--asg'];
  if (groupName === undefined) throw new DoctorUsageError(`--asg <group> is required\n${USAGE}`);
  if (values['--stack'] !== undefined && values['--env'] !== undefined) {
    throw new DoctorUsageError(`give --stack or --env, not both\n${USAGE}`);
  }
  return {
    packageName,
    groupName,
    ...(values['--region'] ? { region: values['--region'] } : {}),
    ...(values['--stack'] ? { stack: values['--stack'] } : {}),
    env: values['--env'] ?? 'default',
    json,
  };
}

/** The stack name: --stack, else stack_name of the environment in infra/<package>/samconfig.toml. */
export function stackNameOf(options: DoctorOptions, infraDir = INFRA_DIR): string {
  if (options.stack !== undefined) return options.stack;
  const file = join(infraDir, options.packageName, 'samconfig.toml');
  let name: string | undefined;
  try {
    name = asString(readSamConfig(file).environments.get(options.env)?.['stack_name']);
  } catch (error) {
    if (error instanceof SamConfigError) throw new DoctorUsageError(`${error.message}; pass --stack <name>`);
    throw error;
  }
  if (name === undefined)
    throw new DoctorUsageError(`${file} has no stack_name for [${options.env}]; pass --stack <name>`);
  return name;
}

export function defaultClients(region: string | undefined): DoctorClients {
  const config = region ? { region } : {};
  return {
    autoscaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    cloudformation: new CloudFormationClient(config),
    lambda: new LambdaClient(config),
  };
}

export interface DoctorIo {
  out: (text: string) => void;
  err: (text: string) => void;
  clients?: (region: string | undefined) => DoctorClients;
}

/** Runs the checks for one package and group; returns the findings. Throws DoctorUsageError. */
export async function runDoctor(options: DoctorOptions, clients: DoctorClients): Promise<DoctorFinding[]> {
  const snapshot = await collect(clients, options.packageName, options.groupName, stackNameOf(options));
  return diagnose(snapshot);
}

export async function main(argv: readonly string[], io: DoctorIo): Promise<number> {
  let options: DoctorOptions | 'help';
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof DoctorUsageError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    io.out(HELP);
    return 0;
  }
  // Region and credentials come from the SDK's default provider chain (AWS_REGION, AWS_PROFILE and
  // its config file, ...), as for the AWS CLI and SAM; --region overrides the region.
  const clients = (io.clients ?? defaultClients)(options.region);
  try {
    await clients.autoscaling.config.region();
  } catch {
    io.err(`no region: pass --region <region>, set AWS_REGION, or set region in your AWS profile\n${USAGE}`);
    return 2;
  }
  let findings: DoctorFinding[];
  try {
    findings = await runDoctor(options, clients);
  } catch (error) {
    if (error instanceof DoctorUsageError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }
  if (options.json) {
    io.out(JSON.stringify({ package: options.packageName, group: options.groupName, findings }, null, 2));
  } else {
    io.out(
      `${options.packageName} / ${options.groupName}: ${findings.length} finding(s)\n${formatFindings(findings)}`,
    );
  }
  return findings.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  main(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`doctor failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
