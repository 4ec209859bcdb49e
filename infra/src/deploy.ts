// `pnpm run deploy <package...> [--env <env>] [--guided] ...` (see USAGE / HELP below).
//
// Builds the selected bundles through turbo (cached), packs each package's release files into
// infra/<package>/.aws-sam/release (release:pack: the zip a release ships, nothing more), then
// deploys that released template the way the SAM CLI expects, from infra/<package> with
// `--config-file infra/<package>/samconfig.toml --config-env <env>`. Before any tool runs, it reads that
// samconfig, merges --parameter-overrides into its parameter_overrides, and checks every template
// parameter without a Default has a value that satisfies the template's constraints.
//
// Without `sam` on PATH it falls back to `aws cloudformation package` + `aws cloudformation
// deploy` with the same samconfig values (the SAM transform runs inside CloudFormation). The AWS
// CLI reads AWS_ENDPOINT_URL, AWS_REGION and credentials from the environment, which is passed on.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { type JsonObject, loadTemplate } from './cfn-yaml.ts';
import { GROUP_PACKAGES } from './doctor/checks.ts';
import {
  asBool,
  asList,
  asString,
  parseSamParameterOverrides,
  parseSamTags,
  quoteSamParameter,
  readSamConfig,
  type SamConfig,
  SamConfigError,
} from './samconfig.ts';
import { discoverTemplates, REPO_ROOT } from './tools.ts';

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
  env: string;
  guided: boolean;
  region?: string;
  /** Global (Key=Value) or package-scoped (package:Key=Value) template parameter overrides. */
  parameterOverrides: string[];
  s3Bucket?: string;
  noConfirmChangeset: boolean;
  dryRun: boolean;
  help: boolean;
  /** After the deploy, run the doctor's checks of each package against this Auto Scaling group. */
  asg?: string;
}

export interface Command {
  /** What the step does, for the plan printout. */
  title: string;
  cmd: string;
  args: string[];
  cwd: string;
  /** A folder the command writes into, created first (a fresh clone has no .aws-sam/). */
  ensureDir?: string;
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
  /** Deployable packages (packages/<name> with a bundle and infra/<name>/template.yaml) -> template path. */
  templates: Map<string, string>;
  /** The template's Parameters section. */
  parametersOf(template: string): Record<string, JsonObject>;
  /** The samconfig.toml next to the template. */
  samConfigOf(template: string): SamConfig;
}

export const USAGE =
  'usage: pnpm run deploy <package...> [--env <env>] [--guided] [--region <region>] ' +
  '[--parameter-overrides Key=Value|package:Key=Value ...] [--s3-bucket <bucket>] [--no-confirm-changeset] ' +
  '[--asg <group>] [--dry-run] [--help]';

export const HELP = `${USAGE}

Builds the selected packages (turbo, cached), packs each one's release files into
infra/<package>/.aws-sam/release (pnpm run release:pack: the zip a release ships), then deploys
each one from infra/<package> with
  sam deploy --template-file .aws-sam/release/<package>-<version>.template.yaml \
    --config-file <infra/<package>/samconfig.toml> --config-env <env>
so the SAM CLI uploads exactly that zip and reads infra/<package>/samconfig.toml, sections
[<env>.global.parameters] (stack_name, region) and [<env>.deploy.parameters] (capabilities,
parameter_overrides, tags, confirm_changeset, ...).

Options:
  --env <env>              samconfig environment (default: default). Each package's samconfig.toml
                           has default, dev, staging and production; production confirms the change set.
  --guided                 run \`sam deploy --guided\`: prompts for every value and saves them to
                           infra/<package>/samconfig.toml under --env (needs the SAM CLI).
  --region <region>        override the samconfig region.
  --parameter-overrides K=V ...
                           template parameters, merged over samconfig's parameter_overrides (a key given
                           here wins). package:K=V applies to one package only. Values may contain spaces:
                           one shell word per pair, e.g. --parameter-overrides 'EipPoolName=prod ForwardProxy'.
  --s3-bucket <bucket>     artifact bucket (overrides samconfig s3_bucket / resolve_s3).
  --no-confirm-changeset   deploy without confirming the change set even where samconfig asks to
                           (CI, where the GitHub environment's reviewers gate the deploy).
  --asg <group>            after the deploy, run \`pnpm run doctor <package> --asg <group>\` for each
                           package that serves a group (${Object.keys(GROUP_PACKAGES).join(', ')}):
                           read-only checks of its hooks, pool and settings; findings exit 1.
  --dry-run                print the commands and run nothing.
  --help                   this text.

Every template parameter without a Default must have a value (samconfig or --parameter-overrides)
that satisfies the template's AllowedPattern / AllowedValues / MinValue / MaxValue; this is
checked before anything is built or deployed.

Without \`sam\` on PATH: \`aws cloudformation package\` (needs s3_bucket in samconfig or --s3-bucket)
then \`aws cloudformation deploy\` with the same samconfig values. Where confirm_changeset is true it
only creates the change set (--no-execute-changeset) and prints how to review and execute it.
The AWS CLI honours AWS_ENDPOINT_URL, AWS_REGION and AWS_PROFILE from the environment.
See docs/deploying.md.`;

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ENV_NAME = /^[A-Za-z0-9_-]+$/;

/** Validate-first: every usage error before anything is built or deployed. */
function validateOptions(options: DeployOptions): void {
  if (options.packages.length === 0)
    throw new DeployUsageError(`name at least one package to deploy\n${USAGE}`);
  if (!ENV_NAME.test(options.env))
    throw new DeployUsageError(`--env '${options.env}' is not valid: letters, digits, '-' or '_'`);
  if (options.region !== undefined && !REGION.test(options.region))
    throw new DeployUsageError(
      `--region '${options.region}' is not an AWS Region name (e.g. ap-northeast-1)`,
    );
  for (const o of options.parameterOverrides) {
    if (!/^([a-z0-9-]+:)?[A-Za-z0-9]+=/.test(o)) {
      throw new DeployUsageError(`--parameter-overrides '${o}' must be Key=Value or package:Key=Value`);
    }
  }
}

export function parseArgs(argv: readonly string[]): DeployOptions {
  const packages: string[] = [];
  const overrides: string[] = [];
  let env = 'default';
  let region: string | undefined;
  let s3Bucket: string | undefined;
  let asg: string | undefined;
  let guided = false;
  let noConfirmChangeset = false;
  let dryRun = false;
  let help = false;
  const flagValue = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new DeployUsageError(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue; // pnpm passes it through
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--dry-run') dryRun = true;
    else if (arg === '--guided') guided = true;
    else if (arg === '--no-confirm-changeset') noConfirmChangeset = true;
    else if (arg === '--env' || arg === '--config-env') env = flagValue(i++, arg);
    else if (arg === '--region') region = flagValue(i++, arg);
    else if (arg === '--s3-bucket') s3Bucket = flagValue(i++, arg);
    else if (arg === '--asg') asg = flagValue(i++, arg);
    else if (arg === '--parameter-overrides') {
      overrides.push(flagValue(i, arg));
      i++;
      while (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--'))
        overrides.push(argv[++i] as string);
    } else if (arg === '--stack-prefix') {
      throw new DeployUsageError(
        `--stack-prefix was removed: the stack name is stack_name in infra/<package>/samconfig.toml, per --env\n${USAGE}`,
      );
    } else if (arg.startsWith('-')) throw new DeployUsageError(`unknown option ${arg}\n${USAGE}`);
    else packages.push(arg);
  }
  const options: DeployOptions = {
    packages: [...new Set(packages)],
    env,
    guided,
    parameterOverrides: overrides,
    noConfirmChangeset,
    dryRun,
    help,
    ...(region !== undefined ? { region } : {}),
    ...(s3Bucket !== undefined ? { s3Bucket } : {}),
    ...(asg !== undefined ? { asg } : {}),
  };
  if (!help) validateOptions(options);
  return options;
}

/** What one package deploys with: samconfig values, then the command line. */
export interface ResolvedDeploy {
  pkg: string;
  template: string;
  dir: string;
  samconfig: string;
  stackName: string | undefined;
  region: string | undefined;
  capabilities: string[];
  parameters: Map<string, string>;
  /** True when the command line adds or changes parameters (then they are all passed to sam). */
  overridden: boolean;
  tags: Map<string, string>;
  s3Bucket: string | undefined;
  s3Prefix: string | undefined;
  resolveS3: boolean;
  confirmChangeset: boolean;
  failOnEmptyChangeset: boolean;
}

function overridesFor(pkg: string, options: DeployOptions): Map<string, string> {
  const result = new Map<string, string>();
  for (const o of options.parameterOverrides) {
    const eq = o.indexOf('=');
    const head = o.slice(0, eq);
    const value = o.slice(eq + 1);
    const [target, key] = head.includes(':') ? (head.split(':') as [string, string]) : [undefined, head];
    if (target !== undefined && !options.packages.includes(target)) {
      throw new DeployUsageError(`--parameter-overrides '${o}' names ${target}, which is not being deployed`);
    }
    if (target === undefined || target === pkg) result.set(key, value);
  }
  return result;
}

function checkValue(pkg: string, key: string, value: string, spec: JsonObject, source: string): void {
  const fail = (why: string): never => {
    throw new DeployUsageError(`${pkg}: parameter ${key}=${JSON.stringify(value)} (${source}) ${why}`);
  };
  const allowed = spec['AllowedValues'];
  if (Array.isArray(allowed) && !allowed.map(String).includes(value))
    fail(`is not one of ${allowed.map(String).join(', ')}`);
  if (
    typeof spec['AllowedPattern'] === 'string' &&
    !new RegExp(`^(?:${spec['AllowedPattern']})$`).test(value)
  )
    fail(`does not match AllowedPattern ${spec['AllowedPattern']}`);
  if (spec['Type'] === 'Number') {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) fail('is not a number');
    if (spec['MinValue'] !== undefined && n < Number(spec['MinValue']))
      fail(`is below MinValue ${spec['MinValue']}`);
    if (spec['MaxValue'] !== undefined && n > Number(spec['MaxValue']))
      fail(`is above MaxValue ${spec['MaxValue']}`);
  }
  if (spec['MaxLength'] !== undefined && value.length > Number(spec['MaxLength']))
    fail(`is longer than MaxLength ${spec['MaxLength']}`);
  if (spec['MinLength'] !== undefined && value.length < Number(spec['MinLength']))
    fail(`is shorter than MinLength ${spec['MinLength']}`);
}

/** Reads samconfig for one package and checks the deploy; throws DeployUsageError naming the fix. */
export function resolveDeploy(pkg: string, options: DeployOptions, env: Environment): ResolvedDeploy {
  const template = env.templates.get(pkg) as string;
  const dir = dirname(template);
  const samconfigFile = join(dir, 'samconfig.toml');
  const { values, where } = samconfigSection(pkg, options, env, template, samconfigFile);
  const { parameters, fromCli } = deployParameters(pkg, options, env, template, values, where);
  const { tags, confirmChangeset, failOnEmptyChangeset, resolveS3 } = deploySwitches(pkg, values, where);
  const stackName = asString(values['stack_name']);
  if (stackName === undefined && !options.guided) {
    throw new DeployUsageError(`${pkg}: ${where} has no stack_name. Add it, or run with --guided.`);
  }
  const region = options.region ?? asString(values['region']);
  if (region !== undefined && !REGION.test(region))
    throw new DeployUsageError(`${pkg}: ${where} region '${region}' is not an AWS Region name`);
  return {
    pkg,
    template,
    dir,
    samconfig: samconfigFile,
    stackName,
    region,
    capabilities: asList(values['capabilities']),
    parameters,
    overridden: fromCli.size > 0,
    tags,
    s3Bucket: options.s3Bucket ?? asString(values['s3_bucket']),
    s3Prefix: asString(values['s3_prefix']) ?? stackName,
    resolveS3,
    confirmChangeset: confirmChangeset && !options.noConfirmChangeset,
    failOnEmptyChangeset,
  };
}

type SamValues = NonNullable<ReturnType<SamConfig['environments']['get']>>;

/** The `[<env>.deploy.parameters]` section of the package's samconfig.toml (empty with --guided). */
function samconfigSection(
  pkg: string,
  options: DeployOptions,
  env: Environment,
  template: string,
  samconfigFile: string,
): { values: SamValues; where: string } {
  const rel = relative(REPO_ROOT, samconfigFile);
  let config: SamConfig;
  try {
    config = env.samConfigOf(template);
  } catch (error) {
    if (error instanceof SamConfigError) throw new DeployUsageError(`${pkg}: ${error.message}`);
    throw error;
  }
  const section = config.environments.get(options.env);
  if (section === undefined && !options.guided) {
    throw new DeployUsageError(
      `${pkg}: ${rel} has no [${options.env}.deploy.parameters]; environments: ${[...config.environments.keys()].join(', ') || '(none)'}. ` +
        `Add the section, or run with --guided to create it.`,
    );
  }
  return { values: section ?? {}, where: `${rel} [${options.env}]` };
}

/** samconfig's parameter_overrides, then --parameter-overrides: each declared by the template, each valid. */
function deployParameters(
  pkg: string,
  options: DeployOptions,
  env: Environment,
  template: string,
  values: SamValues,
  where: string,
): { parameters: Map<string, string>; fromCli: Map<string, string> } {
  let fromConfig: Map<string, string>;
  try {
    fromConfig =
      values['parameter_overrides'] === undefined
        ? new Map()
        : parseSamParameterOverrides(
            Array.isArray(values['parameter_overrides'])
              ? values['parameter_overrides']
              : String(values['parameter_overrides']),
          );
  } catch (error) {
    throw new DeployUsageError(`${pkg}: ${where} ${(error as Error).message}`);
  }
  const fromCli = overridesFor(pkg, options);
  const specs = env.parametersOf(template);
  for (const [key, source] of [
    ...[...fromConfig.keys()].map((k) => [k, `${where} parameter_overrides`]),
    ...[...fromCli.keys()].map((k) => [k, '--parameter-overrides']),
  ] as Array<[string, string]>) {
    if (specs[key] === undefined) {
      throw new DeployUsageError(
        `${pkg}: ${source} sets ${key}, which ${relative(REPO_ROOT, template)} does not declare (parameters: ${Object.keys(specs).join(', ')})`,
      );
    }
  }
  const parameters = new Map([...fromConfig, ...fromCli]);
  if (!options.guided) {
    const missing = Object.entries(specs)
      .filter(([key, spec]) => spec['Default'] === undefined && !parameters.has(key))
      .map(([key]) => key);
    if (missing.length > 0) {
      throw new DeployUsageError(
        `${pkg}: parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no Default and no value. ` +
          `Set ${missing.map((k) => `${k}=...`).join(' ')} in parameter_overrides of ${where}, ` +
          `pass --parameter-overrides ${missing.map((k) => `${k}=...`).join(' ')}, or run with --guided.`,
      );
    }
    for (const [key, value] of parameters) {
      const source = fromCli.has(key) ? '--parameter-overrides' : `${where} parameter_overrides`;
      checkValue(pkg, key, value, specs[key] as JsonObject, source);
    }
  }
  return { parameters, fromCli };
}

/** tags and the boolean switches of the section. */
function deploySwitches(pkg: string, values: SamValues, where: string) {
  try {
    return {
      tags: parseSamTags(values['tags']),
      confirmChangeset: asBool(values['confirm_changeset'], false),
      failOnEmptyChangeset: asBool(values['fail_on_empty_changeset'], true),
      resolveS3: asBool(values['resolve_s3'], false),
    };
  } catch (error) {
    throw new DeployUsageError(`${pkg}: ${where} ${(error as Error).message}`);
  }
}

/** Where the deploy packs the release files of a package (relative to infra/<package>). */
export const RELEASE_DIR = join('.aws-sam', 'release');

/** The released template the deploy uploads from, as release:pack names it (relative to infra/<package>). */
export function releaseTemplateOf(pkg: string): string {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', pkg, 'package.json'), 'utf8')) as {
    version: string;
  };
  return join(RELEASE_DIR, `${pkg}-${version}.template.yaml`);
}

/** release:pack of the built package into infra/<package>/.aws-sam/release: what a release ships. */
function packCommand(d: ResolvedDeploy): Command {
  const out = join(d.dir, RELEASE_DIR);
  return {
    title: `pack the ${d.pkg} release files (the zip a release ships: handlers and their chunks only)`,
    cmd: 'pnpm',
    args: ['run', '--silent', 'release:pack', d.pkg, '--no-build', '--out', out],
    cwd: REPO_ROOT,
    ensureDir: out,
  };
}

function samCommand(d: ResolvedDeploy, options: DeployOptions): Command {
  // SAM resolves a relative --config-file from the template's folder: name it absolutely.
  const args = [
    'deploy',
    '--template-file',
    releaseTemplateOf(d.pkg),
    '--config-file',
    d.samconfig,
    '--config-env',
    options.env,
  ];
  if (options.guided) args.push('--guided');
  if (options.region !== undefined) args.push('--region', options.region);
  if (options.s3Bucket !== undefined) args.push('--s3-bucket', options.s3Bucket);
  // On the command line, --parameter-overrides replaces samconfig's parameter_overrides as a
  // whole: pass the merged set, each value quoted so that SAM's parser gives it back unchanged.
  if (d.overridden) {
    try {
      args.push('--parameter-overrides', ...[...d.parameters].map(([k, v]) => quoteSamParameter(k, v)));
    } catch (error) {
      throw new DeployUsageError(`${d.pkg}: ${(error as Error).message}`);
    }
  }
  if (options.noConfirmChangeset) args.push('--no-confirm-changeset');
  return {
    title: `deploy ${d.pkg}${d.stackName !== undefined ? ` as ${d.stackName}` : ''} (sam, [${options.env}] of ${relative(REPO_ROOT, d.samconfig)})`,
    cmd: 'sam',
    args,
    cwd: d.dir,
  };
}

function awsCommands(d: ResolvedDeploy, options: DeployOptions): Command[] {
  const where = `${relative(REPO_ROOT, d.samconfig)} [${options.env}]`;
  if (d.s3Bucket === undefined) {
    throw new DeployUsageError(
      `'sam' is not installed. ${SAM_INSTALL}.\n` +
        `Alternative with the AWS CLI: ${d.resolveS3 ? `${where} has resolve_s3 = true, which only the SAM CLI can do; ` : ''}` +
        'pass --s3-bucket <bucket> (an existing bucket in the Region for the bundles) or set s3_bucket in samconfig, ' +
        'and this command runs `aws cloudformation package` then `aws cloudformation deploy`.',
    );
  }
  const region = d.region !== undefined ? ['--region', d.region] : [];
  const outDir = join(d.dir, '.aws-sam');
  const packaged = join('.aws-sam', `packaged-${options.env}.yaml`);
  const deployArgs = [
    'cloudformation',
    'deploy',
    '--template-file',
    packaged,
    '--stack-name',
    d.stackName as string,
    ...region,
    ...(d.capabilities.length > 0 ? ['--capabilities', ...d.capabilities] : []),
    // The AWS CLI splits each Key=Value at the first '=': a value keeps its spaces as is.
    ...(d.parameters.size > 0
      ? ['--parameter-overrides', ...[...d.parameters].map(([k, v]) => `${k}=${v}`)]
      : []),
    ...(d.tags.size > 0 ? ['--tags', ...[...d.tags].map(([k, v]) => `${k}=${v}`)] : []),
    ...(d.failOnEmptyChangeset ? [] : ['--no-fail-on-empty-changeset']),
    ...(d.confirmChangeset ? ['--no-execute-changeset'] : []),
  ];
  return [
    {
      title: `upload the ${d.pkg} release zip and write the packaged template`,
      cmd: 'aws',
      args: [
        'cloudformation',
        'package',
        '--template-file',
        releaseTemplateOf(d.pkg),
        '--s3-bucket',
        d.s3Bucket,
        ...(d.s3Prefix !== undefined ? ['--s3-prefix', d.s3Prefix] : []),
        '--output-template-file',
        packaged,
        ...region,
      ],
      cwd: d.dir,
      ensureDir: outDir,
    },
    {
      title: d.confirmChangeset
        ? `create the change set for ${d.stackName} (${where} has confirm_changeset = true: review it, then run the execute-change-set command the AWS CLI prints)`
        : `deploy ${d.pkg} as ${d.stackName} (aws cloudformation)`,
      cmd: 'aws',
      args: deployArgs,
      cwd: d.dir,
    },
  ];
}

export function planDeploy(options: DeployOptions, env: Environment): Plan {
  const known = [...env.templates.keys()].sort();
  const unknown = options.packages.filter((p) => !env.templates.has(p));
  if (unknown.length > 0) {
    throw new DeployUsageError(
      `unknown package${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Deployable packages: ${known.join(', ') || '(none yet)'}`,
    );
  }
  const resolved = options.packages.map((pkg) => resolveDeploy(pkg, options, env));
  const notes: string[] = [];
  const hasSam = env.which('sam') !== undefined;
  if (!hasSam) {
    if (options.guided) throw new DeployUsageError(`--guided needs the SAM CLI. ${SAM_INSTALL}.`);
    notes.push(`'sam' was not found on PATH. ${SAM_INSTALL}.`);
    if (env.which('aws') === undefined) {
      throw new DeployUsageError(
        `neither 'sam' nor 'aws' is installed.\n${SAM_INSTALL}.\nOr: ${AWS_CLI_INSTALL}.`,
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
  for (const d of resolved) {
    commands.push(packCommand(d));
    if (hasSam) commands.push(samCommand(d, options));
    else commands.push(...awsCommands(d, options));
  }
  if (options.asg !== undefined) commands.push(...doctorCommands(resolved, options, options.asg));
  return { tool: hasSam ? 'sam' : 'aws', notes, commands };
}

/** `pnpm run doctor` for each deployed package that serves an Auto Scaling group (infra/src/doctor). */
function doctorCommands(
  resolved: readonly ResolvedDeploy[],
  options: DeployOptions,
  group: string,
): Command[] {
  const checked = resolved.filter((d) => GROUP_PACKAGES[d.pkg] !== undefined);
  if (checked.length === 0) {
    throw new DeployUsageError(
      `--asg checks ${Object.keys(GROUP_PACKAGES).join(', ')}; none of ${options.packages.join(', ')} serves a group`,
    );
  }
  return checked.map((d) => ({
    title: `doctor: check ${d.pkg} against group ${group} (read-only)`,
    cmd: 'pnpm',
    args: [
      'run',
      '--silent',
      'doctor',
      d.pkg,
      '--asg',
      group,
      ...(d.stackName !== undefined ? ['--stack', d.stackName] : ['--env', options.env]),
      ...(d.region !== undefined ? ['--region', d.region] : []),
    ],
    cwd: REPO_ROOT,
  }));
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command as a user would type it in a POSIX shell (cd into its folder first). */
export function shellLine(c: Command): string {
  const cwd = relative(REPO_ROOT, c.cwd);
  return `${cwd !== '' ? `(cd ${quote(cwd)} && ` : ''}${[c.cmd, ...c.args].map(quote).join(' ')}${cwd !== '' ? ')' : ''}`;
}

export function formatPlan(plan: Plan): string {
  return [...plan.notes, ...plan.commands.map((c, i) => `# ${i + 1}. ${c.title}\n${shellLine(c)}`)].join(
    '\n',
  );
}

export type Runner = (command: Command) => number;

export const spawnRunner: Runner = (command) => {
  const result = spawnSync(command.cmd, command.args, {
    cwd: command.cwd,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.error !== undefined) throw result.error;
  return result.status ?? 1;
};

/** Runs the plan in order and stops at the first failing command; returns the exit code. */
export function runPlan(plan: Plan, run: Runner, log: (line: string) => void): number {
  for (const note of plan.notes) log(note);
  for (const [i, command] of plan.commands.entries()) {
    log(`# ${i + 1}/${plan.commands.length} ${command.title}`);
    if (command.ensureDir !== undefined) mkdirSync(command.ensureDir, { recursive: true });
    const status = run(command);
    if (status !== 0) {
      log(`failed (exit ${status}): ${shellLine(command)}`);
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
      return loadTemplate(template).Parameters ?? {};
    },
    samConfigOf(template) {
      return readSamConfig(resolve(dirname(template), 'samconfig.toml'));
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
    if (options.help) {
      log(HELP);
      return 0;
    }
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
