// `pnpm run deploy <package...> --stack-prefix <p> --region <r> [--parameter-overrides K=V ...]
//  [--s3-bucket <b>] [--config-env <env>] [--dry-run]`
//
// Builds the selected bundles through turbo (cached), then deploys each package's SAM template
// as the stack <prefix>-<package> with `sam deploy`. Without `sam`, it says how to install it and
// falls back to `aws cloudformation package` + `aws cloudformation deploy` (the AWS SAM transform
// runs in CloudFormation, so a packaged template deploys with the AWS CLI alone; it needs an S3
// bucket for the bundles). --dry-run prints the exact commands and runs nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadTemplate } from './cfn-yaml.ts';
import { discoverTemplates, INFRA_DIR, REPO_ROOT } from './tools.ts';

export const SAM_INSTALL =
  'Install the AWS SAM CLI: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html ' +
  '(Linux/macOS: the official installer, or `brew install aws-sam-cli`, or `pip install aws-sam-cli`)';
export const AWS_CLI_INSTALL =
  'Install the AWS CLI: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html';

export class DeployUsageError extends Error {
  override readonly name = 'DeployUsageError';
}

export interface DeployOptions {
  packages: string[];
  stackPrefix: string;
  region: string;
  /** Global (Key=Value) or package-scoped (package:Key=Value) template parameter overrides. */
  parameterOverrides: string[];
  s3Bucket?: string;
  configEnv: string;
  dryRun: boolean;
}

export interface Command {
  /** What the step does, for the plan printout. */
  title: string;
  cmd: string;
  args: string[];
  cwd: string;
}

export interface Plan {
  tool: 'sam' | 'aws';
  /** Printed before the plan (e.g. how to install sam). */
  notes: string[];
  commands: Command[];
}

export interface Environment {
  /** Where a command is on PATH, or undefined. */
  which(command: string): string | undefined;
  /** Packages that can be deployed (have packages/<name> and infra/<name>/template.yaml) with their template path. */
  templates: Map<string, string>;
  /** Parameter names each template declares. */
  parametersOf(template: string): string[];
}

export const USAGE =
  'usage: pnpm run deploy <package...> --stack-prefix <prefix> --region <region> ' +
  '[--parameter-overrides Key=Value|package:Key=Value ...] [--s3-bucket <bucket>] [--config-env <env>] [--dry-run]';

const STACK_PREFIX = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

export function parseArgs(argv: readonly string[]): DeployOptions {
  const packages: string[] = [];
  const overrides: string[] = [];
  let stackPrefix: string | undefined;
  let region: string | undefined;
  let s3Bucket: string | undefined;
  let configEnv = 'default';
  let dryRun = false;
  const flagValue = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new DeployUsageError(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue; // pnpm passes it through
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--stack-prefix') stackPrefix = flagValue(i++, arg);
    else if (arg === '--region') region = flagValue(i++, arg);
    else if (arg === '--s3-bucket') s3Bucket = flagValue(i++, arg);
    else if (arg === '--config-env') configEnv = flagValue(i++, arg);
    else if (arg === '--parameter-overrides') {
      overrides.push(flagValue(i, arg));
      i++;
      while (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--'))
        overrides.push(argv[++i] as string);
    } else if (arg.startsWith('--')) throw new DeployUsageError(`unknown option ${arg}\n${USAGE}`);
    else packages.push(arg);
  }
  if (packages.length === 0) throw new DeployUsageError(`name at least one package to deploy\n${USAGE}`);
  if (stackPrefix === undefined) throw new DeployUsageError(`--stack-prefix is required\n${USAGE}`);
  if (!STACK_PREFIX.test(stackPrefix)) {
    throw new DeployUsageError(
      `--stack-prefix '${stackPrefix}' is not valid: a letter, then letters, digits or '-', at most 64 characters`,
    );
  }
  if (region === undefined) throw new DeployUsageError(`--region is required\n${USAGE}`);
  if (!REGION.test(region))
    throw new DeployUsageError(`--region '${region}' is not an AWS Region name (e.g. ap-northeast-1)`);
  for (const o of overrides) {
    if (!/^([a-z0-9-]+:)?[A-Za-z0-9]+=.*$/.test(o)) {
      throw new DeployUsageError(`--parameter-overrides '${o}' must be Key=Value or package:Key=Value`);
    }
  }
  return {
    packages: [...new Set(packages)],
    stackPrefix,
    region,
    parameterOverrides: overrides,
    ...(s3Bucket !== undefined ? { s3Bucket } : {}),
    configEnv,
    dryRun,
  };
}

/** The overrides that apply to one package's template, as Key=Value. Unknown keys are errors. */
function overridesFor(pkg: string, options: DeployOptions, env: Environment): string[] {
  const declared = new Set(env.parametersOf(env.templates.get(pkg) as string));
  const result: string[] = [];
  for (const o of options.parameterOverrides) {
    const scoped = /^([a-z0-9-]+):(.*)$/.exec(o.split('=')[0] as string);
    const target = scoped?.[1];
    const keyValue = scoped ? o.slice((target as string).length + 1) : o;
    const key = keyValue.split('=')[0] as string;
    if (target !== undefined && target !== pkg) continue;
    if (declared.has(key)) result.push(keyValue);
  }
  return result;
}

function checkOverridesUsed(options: DeployOptions, env: Environment): void {
  for (const o of options.parameterOverrides) {
    const head = o.split('=')[0] as string;
    const [target, key] = head.includes(':') ? head.split(':') : [undefined, head];
    const candidates = target !== undefined ? [target] : options.packages;
    if (target !== undefined && !options.packages.includes(target)) {
      throw new DeployUsageError(`--parameter-overrides '${o}' names ${target}, which is not being deployed`);
    }
    const used = candidates.some((pkg) =>
      env.parametersOf(env.templates.get(pkg) as string).includes(key as string),
    );
    if (!used) {
      throw new DeployUsageError(
        `--parameter-overrides '${o}': no selected template declares the parameter ${key} (${candidates.join(', ')})`,
      );
    }
  }
}

export function planDeploy(options: DeployOptions, env: Environment): Plan {
  const known = [...env.templates.keys()].sort();
  const unknown = options.packages.filter((p) => !env.templates.has(p));
  if (unknown.length > 0) {
    throw new DeployUsageError(
      `unknown package${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Deployable packages: ${known.join(', ') || '(none yet)'}`,
    );
  }
  checkOverridesUsed(options, env);
  const notes: string[] = [];
  const hasSam = env.which('sam') !== undefined;
  if (!hasSam) {
    notes.push(`'sam' was not found on PATH. ${SAM_INSTALL}.`);
    if (env.which('aws') === undefined) {
      throw new DeployUsageError(
        `neither 'sam' nor 'aws' is installed.\n${SAM_INSTALL}.\nOr: ${AWS_CLI_INSTALL}.`,
      );
    }
    if (options.s3Bucket === undefined) {
      throw new DeployUsageError(
        `'sam' is not installed. ${SAM_INSTALL}.\n` +
          'Alternative with the AWS CLI: pass --s3-bucket <bucket> (an existing bucket in the Region for the bundles) ' +
          'and this command runs `aws cloudformation package` then `aws cloudformation deploy`.',
      );
    }
    notes.push('Falling back to `aws cloudformation package` + `aws cloudformation deploy`.');
  }
  const commands: Command[] = [
    {
      title: `build ${options.packages.join(', ')} (turbo, cached)`,
      cmd: 'pnpm',
      args: ['exec', 'turbo', 'run', 'build', ...options.packages.map((p) => `--filter=@netkit/${p}...`)],
      cwd: REPO_ROOT,
    },
  ];
  for (const pkg of options.packages) {
    const template = relative(REPO_ROOT, env.templates.get(pkg) as string);
    const stackName = `${options.stackPrefix}-${pkg}`;
    const overrides = overridesFor(pkg, options, env);
    const overrideArgs = overrides.length > 0 ? ['--parameter-overrides', ...overrides] : [];
    const tags = ['--tags', `netkit:package=${pkg}`, `netkit:stack-prefix=${options.stackPrefix}`];
    if (hasSam) {
      commands.push({
        title: `deploy ${pkg} as ${stackName} (sam)`,
        cmd: 'sam',
        args: [
          'deploy',
          '--template-file',
          template,
          '--stack-name',
          stackName,
          '--region',
          options.region,
          '--capabilities',
          'CAPABILITY_IAM',
          ...(options.s3Bucket !== undefined
            ? ['--s3-bucket', options.s3Bucket, '--s3-prefix', stackName]
            : ['--resolve-s3']),
          '--config-file',
          relative(REPO_ROOT, join(INFRA_DIR, 'samconfig.toml')),
          '--config-env',
          options.configEnv,
          '--no-confirm-changeset',
          '--no-fail-on-empty-changeset',
          ...tags,
          ...overrideArgs,
        ],
        cwd: REPO_ROOT,
      });
    } else {
      const packaged = relative(REPO_ROOT, join(INFRA_DIR, '.aws-sam', `${pkg}.packaged.yaml`));
      commands.push(
        {
          title: `upload the ${pkg} bundle and write the packaged template`,
          cmd: 'aws',
          args: [
            'cloudformation',
            'package',
            '--template-file',
            template,
            '--s3-bucket',
            options.s3Bucket as string,
            '--s3-prefix',
            stackName,
            '--output-template-file',
            packaged,
            '--region',
            options.region,
          ],
          cwd: REPO_ROOT,
        },
        {
          title: `deploy ${pkg} as ${stackName} (aws cloudformation)`,
          cmd: 'aws',
          args: [
            'cloudformation',
            'deploy',
            '--template-file',
            packaged,
            '--stack-name',
            stackName,
            '--region',
            options.region,
            '--capabilities',
            'CAPABILITY_IAM',
            '--no-fail-on-empty-changeset',
            ...tags,
            ...overrideArgs,
          ],
          cwd: REPO_ROOT,
        },
      );
    }
  }
  return { tool: hasSam ? 'sam' : 'aws', notes, commands };
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatPlan(plan: Plan): string {
  return [
    ...plan.notes,
    ...plan.commands.map((c, i) => `# ${i + 1}. ${c.title}\n${[c.cmd, ...c.args].map(quote).join(' ')}`),
  ].join('\n');
}

export type Runner = (command: Command) => number;

export const spawnRunner: Runner = (command) => {
  const result = spawnSync(command.cmd, command.args, { cwd: command.cwd, stdio: 'inherit' });
  if (result.error !== undefined) throw result.error;
  return result.status ?? 1;
};

/** Runs the plan in order and stops at the first failing command; returns the exit code. */
export function runPlan(plan: Plan, run: Runner, log: (line: string) => void): number {
  for (const note of plan.notes) log(note);
  for (const [i, command] of plan.commands.entries()) {
    log(`# ${i + 1}/${plan.commands.length} ${command.title}`);
    const status = run(command);
    if (status !== 0) {
      log(`failed (exit ${status}): ${[command.cmd, ...command.args].map(quote).join(' ')}`);
      return status;
    }
  }
  return 0;
}

export function defaultEnvironment(): Environment {
  const { packageTemplates, lambdaPackages } = discoverTemplates();
  const templates = new Map([...packageTemplates].filter(([pkg]) => lambdaPackages.includes(pkg)));
  return {
    templates,
    which(command) {
      for (const dir of (process.env['PATH'] ?? '').split(':')) {
        if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
      }
      return undefined;
    },
    parametersOf(template) {
      return Object.keys(loadTemplate(template).Parameters ?? {});
    },
  };
}

export function main(
  argv: readonly string[],
  env: Environment,
  run: Runner,
  log: (line: string) => void,
): number {
  try {
    const options = parseArgs(argv);
    const plan = planDeploy(options, env);
    if (options.dryRun) {
      log(formatPlan(plan));
      return 0;
    }
    return runPlan(plan, run, log);
  } catch (error) {
    if (error instanceof DeployUsageError) {
      log(`deploy: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2), defaultEnvironment(), spawnRunner, (line) =>
    console.log(line),
  );
}
