// The deploy command: samconfig handling, quoting, required parameters, --help and the AWS CLI
// fallback. Templates and samconfig files are real files in a temporary folder; `which` and
// the runner are injected, so nothing reaches AWS (the emulator test deploys for real).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTemplate } from '../src/cfn-yaml.ts';
import {
  type Command,
  DeployUsageError,
  type Environment,
  HELP,
  main,
  parseArgs,
  planDeploy,
  releaseTemplateOf,
  runPlan,
} from '../src/deploy.ts';
import { parseArgs as parseDoctorArgs } from '../src/doctor/cli.ts';
import { rehearsalParameters } from '../src/rehearse.ts';
import { parseSamParameterOverrides, quoteSamParameter, readSamConfig } from '../src/samconfig.ts';
import { discoverTemplates, INFRA_DIR, REPO_ROOT } from '../src/tools.ts';

const rehearsalOverrides = JSON.parse(
  readFileSync(join(INFRA_DIR, 'test', 'rehearsal-parameters.json'), 'utf8'),
) as Record<string, Record<string, string>>;

const root = mkdtempSync(join(tmpdir(), 'netkit-deploy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TEMPLATE = `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  AutoScalingGroupName:
    Type: String
    AllowedPattern: ^[A-Za-z0-9 _.:/=+@-]{1,255}$
  EipPoolName:
    Type: String
  LogRetentionInDays:
    Type: Number
    Default: 30
    AllowedValues: [7, 30, 90]
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../../packages/eip-associator/dist
      Handler: index.handler
      Runtime: nodejs22.x
`;

const SAMCONFIG = `version = 0.1
[default.deploy.parameters]
stack_name = "netkit-eip-associator"
resolve_s3 = true
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
fail_on_empty_changeset = false

[dev.global.parameters]
region = "eu-west-1"

[dev.deploy.parameters]
stack_name = "netkit-dev-eip-associator"
s3_bucket = "dev-artifacts"
capabilities = "CAPABILITY_IAM"
confirm_changeset = false
parameter_overrides = "AutoScalingGroupName=\\"web asg\\" EipPoolName=\\"prod ForwardProxy\\""
tags = "netkit:package=eip-associator netkit:environment=dev"

[production.deploy.parameters]
stack_name = "netkit-prod-eip-associator"
s3_bucket = "prod-artifacts"
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
parameter_overrides = ["AutoScalingGroupName=proxy", "EipPoolName=\\"prod ForwardProxy\\""]
`;

let n = 0;
/** A fresh infra/<pkg> folder with a template and a samconfig.toml. */
function fixture(samconfig = SAMCONFIG): string {
  const dir = join(root, `case-${n++}`, 'eip-associator');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'template.yaml'), TEMPLATE);
  writeFileSync(join(dir, 'samconfig.toml'), samconfig);
  return join(dir, 'template.yaml');
}

function environment(template: string, installed: string[] = ['sam', 'aws']): Environment {
  return {
    which: (command) => (installed.includes(command) ? `/usr/bin/${command}` : undefined),
    templates: new Map([['eip-associator', template]]),
    parametersOf: (file) => loadTemplate(file).Parameters ?? {},
    samConfigOf: (file) => readSamConfig(join(file, '..', 'samconfig.toml')),
  };
}

function plan(argv: string[], template = fixture(), installed?: string[]): Command[] {
  return planDeploy(parseArgs(argv), environment(template, installed)).commands;
}

function run(argv: string[], env: Environment): { code: number; out: string; ran: Command[] } {
  const ran: Command[] = [];
  const out: string[] = [];
  const code = main(
    argv,
    env,
    (c) => {
      ran.push(c);
      return 0;
    },
    (l) => out.push(l),
  );
  return { code, out: out.join('\n'), ran };
}

describe('sam deploy, the SAM way', () => {
  it('packs the release files, then runs sam from the template folder on the released template with the package samconfig and --config-env', () => {
    const template = fixture();
    const [build, pack, deploy] = plan(['eip-associator', '--env', 'dev'], template);
    expect(build?.args).toEqual(['exec', 'turbo', 'run', 'build', '--filter=@netkit/eip-associator...']);
    // The zip a release ships (release:pack), not the whole dist/ folder with its metafile and maps.
    const out = join(template, '..', '.aws-sam', 'release');
    expect(pack?.args).toEqual([
      'run',
      '--silent',
      'release:pack',
      'eip-associator',
      '--no-build',
      '--out',
      out,
    ]);
    expect(pack?.ensureDir).toBe(out);
    expect(deploy?.cmd).toBe('sam');
    expect(deploy?.cwd).toBe(join(template, '..'));
    expect(releaseTemplateOf('eip-associator')).toMatch(
      /^\.aws-sam\/release\/eip-associator-\d+\.\d+\.\d+\.template\.yaml$/,
    );
    // SAM resolves a relative --config-file from the template's folder: it is absolute.
    expect(deploy?.args).toEqual([
      'deploy',
      '--template-file',
      releaseTemplateOf('eip-associator'),
      '--config-file',
      join(template, '..', 'samconfig.toml'),
      '--config-env',
      'dev',
    ]);
  });

  it('leaves change set confirmation to samconfig (production confirms) unless --no-confirm-changeset is given', () => {
    const template = fixture();
    const prod = plan(['eip-associator', '--env', 'production'], template)[2];
    expect(prod?.args).not.toContain('--no-confirm-changeset');
    const ci = plan(['eip-associator', '--env', 'production', '--no-confirm-changeset'], template)[2];
    expect(ci?.args).toContain('--no-confirm-changeset');
  });

  it('passes the merged parameters, quoted so that SAM parses back each value unchanged (a command-line override replaces samconfig parameter_overrides as a whole)', () => {
    const deploy = plan([
      'eip-associator',
      '--env',
      'dev',
      '--parameter-overrides',
      'LogRetentionInDays=90',
      'EipPoolName=web "blue" pool',
    ])[2] as Command;
    const at = deploy.args.indexOf('--parameter-overrides');
    expect(at).toBeGreaterThan(0);
    const passed = deploy.args.slice(at + 1);
    // What the SAM CLI will make of these arguments (samcli/cli/types.py, ported in samconfig.ts):
    expect(Object.fromEntries(parseSamParameterOverrides(passed))).toEqual({
      AutoScalingGroupName: 'web asg',
      EipPoolName: 'web "blue" pool',
      LogRetentionInDays: '90',
    });
  });

  it('runs sam deploy --guided, which needs no stack name or parameters yet', () => {
    const template = fixture('version = 0.1\n');
    const deploy = plan(['eip-associator', '--env', 'staging', '--guided'], template)[2];
    expect(deploy?.args).toEqual([
      'deploy',
      '--template-file',
      releaseTemplateOf('eip-associator'),
      '--config-file',
      join(template, '..', 'samconfig.toml'),
      '--config-env',
      'staging',
      '--guided',
    ]);
  });
});

describe("SAM's parameter_overrides grammar", () => {
  it.each([
    ['prod ForwardProxy'],
    ['{"Application":"prod ForwardProxy"}'],
    ["it's"],
    ['a=b=c'],
    ['C:\\path\\x'],
    [''],
  ])('round-trips %j through quoteSamParameter and SAM’s parser', (value) => {
    expect(parseSamParameterOverrides([quoteSamParameter('Key', value)]).get('Key')).toBe(value);
  });

  it('cuts an unquoted value at the space, which is why values are quoted', () => {
    expect(Object.fromEntries(parseSamParameterOverrides('Pool=prod ForwardProxy'))).toEqual({
      Pool: 'prod',
    });
  });

  it('reads both SAM forms and a list', () => {
    expect(
      Object.fromEntries(
        parseSamParameterOverrides(['ParameterKey=A,ParameterValue=x', 'B="y z" C=\'w v\'']),
      ),
    ).toEqual({ A: 'x', B: 'y z', C: 'w v' });
  });

  it('refuses a value SAM could not pass unchanged', () => {
    expect(() => quoteSamParameter('Key', 'ends with \\')).toThrow(/backslash/);
  });
});

describe('checks before any tool runs', () => {
  it('names each required parameter without a value, where to set it, and runs nothing', () => {
    const { code, out, ran } = run(['eip-associator'], environment(fixture()));
    expect(code).toBe(2);
    expect(ran).toEqual([]);
    expect(out).toMatch(
      /eip-associator: parameters AutoScalingGroupName, EipPoolName have no Default and no value\. Set AutoScalingGroupName=\.\.\. EipPoolName=\.\.\. in parameter_overrides of .*samconfig\.toml \[default\]/,
    );
  });

  it('accepts the required parameters from the command line', () => {
    const cmds = plan(['eip-associator', '--parameter-overrides', 'AutoScalingGroupName=a', 'EipPoolName=b']);
    expect(cmds).toHaveLength(3);
  });

  it.each([
    [
      ['--env', 'dev', '--parameter-overrides', 'LogRetentionInDays=45'],
      /LogRetentionInDays="45" \(--parameter-overrides\) is not one of 7, 30, 90/,
    ],
    [
      ['--env', 'dev', '--parameter-overrides', 'AutoScalingGroupName=a;b'],
      /AutoScalingGroupName="a;b" .* does not match AllowedPattern/,
    ],
    [
      ['--env', 'dev', '--parameter-overrides', 'PoolTag=x'],
      /--parameter-overrides sets PoolTag, which .* does not declare/,
    ],
    [
      ['--env', 'dev', '--parameter-overrides', 'nat-reaper:X=1'],
      /names nat-reaper, which is not being deployed/,
    ],
    [['--env', 'qa'], /has no \[qa\.deploy\.parameters\]; environments: default, dev, production/],
  ])('rejects %j with the reason and runs nothing', (extra, message) => {
    const { code, out, ran } = run(['eip-associator', ...extra], environment(fixture()));
    expect(code).toBe(2);
    expect(ran).toEqual([]);
    expect(out).toMatch(message);
  });

  it('rejects a samconfig parameter the template does not declare, naming the file and section', () => {
    const template = fixture(
      `${SAMCONFIG.replace('EipPoolName=\\"prod ForwardProxy\\""', 'EipPool=\\"x\\""')}`,
    );
    expect(() => plan(['eip-associator', '--env', 'dev'], template)).toThrow(
      /samconfig\.toml \[dev\] parameter_overrides sets EipPool, which .* does not declare/,
    );
  });

  it('rejects an unknown package, listing the deployable ones', () => {
    expect(() => plan(['eip-associater'])).toThrow(
      'unknown package: eip-associater. Deployable packages: eip-associator',
    );
  });

  it.each([
    [[], /name at least one package/],
    [['eip-associator', '--region', 'tokyo'], /--region 'tokyo' is not an AWS Region/],
    [['eip-associator', '--force'], /unknown option --force/],
    [['eip-associator', '--env'], /--env needs a value/],
    [['eip-associator', '--stack-prefix', 'p'], /stack_name in infra\/<package>\/samconfig\.toml/],
    [['eip-associator', '--parameter-overrides', 'oops'], /must be Key=Value/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(DeployUsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('--help', () => {
  it('prints the options and exits 0 without running anything, with or without packages', () => {
    for (const argv of [['--help'], ['eip-associator', '--help'], ['-h']]) {
      const { code, out, ran } = run(argv, environment(fixture()));
      expect(code).toBe(0);
      expect(ran).toEqual([]);
      expect(out).toBe(HELP);
    }
    expect(HELP).toMatch(/--env <env>/);
    expect(HELP).toMatch(/--guided/);
    expect(HELP).toMatch(/--no-confirm-changeset/);
  });
});

describe('without sam: the AWS CLI fallback', () => {
  it('packages into <template folder>/.aws-sam (created first) and deploys with the samconfig values, one argument per parameter', () => {
    const template = fixture();
    const cmds = plan(['eip-associator', '--env', 'dev'], template, ['aws']);
    const [, , pkg, deploy] = cmds as [Command, Command, Command, Command];
    expect(pkg.cwd).toBe(join(template, '..'));
    expect(pkg.ensureDir).toBe(join(template, '..', '.aws-sam'));
    expect(pkg.args).toEqual([
      'cloudformation',
      'package',
      '--template-file',
      releaseTemplateOf('eip-associator'),
      '--s3-bucket',
      'dev-artifacts',
      '--s3-prefix',
      'netkit-dev-eip-associator',
      '--output-template-file',
      '.aws-sam/packaged-dev.yaml',
      '--region',
      'eu-west-1',
    ]);
    expect(deploy.args).toEqual([
      'cloudformation',
      'deploy',
      '--template-file',
      '.aws-sam/packaged-dev.yaml',
      '--stack-name',
      'netkit-dev-eip-associator',
      '--region',
      'eu-west-1',
      '--capabilities',
      'CAPABILITY_IAM',
      '--parameter-overrides',
      'AutoScalingGroupName=web asg',
      'EipPoolName=prod ForwardProxy',
      '--tags',
      'netkit:package=eip-associator',
      'netkit:environment=dev',
    ]);
  });

  it('creates the .aws-sam folder before aws cloudformation package writes into it (a fresh clone has none)', () => {
    const template = fixture();
    const p = planDeploy(parseArgs(['eip-associator', '--env', 'dev']), environment(template, ['aws']));
    const outDir = join(template, '..', '.aws-sam');
    expect(existsSync(outDir)).toBe(false);
    const seen: boolean[] = [];
    runPlan(
      p,
      (c) => {
        if (c.args[1] === 'package') seen.push(existsSync(outDir));
        return 0;
      },
      () => {},
    );
    expect(seen).toEqual([true]);
  });

  it('only creates the change set where samconfig asks to confirm it', () => {
    const deploy = plan(['eip-associator', '--env', 'production'], fixture(), ['aws'])[3];
    expect(deploy?.args).toContain('--no-execute-changeset');
    const ci = plan(['eip-associator', '--env', 'production', '--no-confirm-changeset'], fixture(), [
      'aws',
    ])[3];
    expect(ci?.args).not.toContain('--no-execute-changeset');
  });

  it('asks for a bucket where samconfig relies on resolve_s3 (only the SAM CLI can create one)', () => {
    const argv = ['eip-associator', '--parameter-overrides', 'AutoScalingGroupName=a', 'EipPoolName=b'];
    expect(() => plan(argv, fixture(), ['aws'])).toThrow(
      /resolve_s3 = true, which only the SAM CLI can do.*--s3-bucket/s,
    );
    expect(plan([...argv, '--s3-bucket', 'mine'], fixture(), ['aws'])[2]?.args).toContain('mine');
  });

  it('refuses --guided, and says how to install either tool when neither is there', () => {
    expect(() => plan(['eip-associator', '--guided'], fixture(), ['aws'])).toThrow(
      /--guided needs the SAM CLI/,
    );
    expect(() => plan(['eip-associator', '--env', 'dev'], fixture(), [])).toThrow(
      /neither 'sam' nor 'aws'.*\n.*SAM CLI.*\n.*AWS CLI/,
    );
  });

  it('stops at the first failing command with its exit code', () => {
    const p = planDeploy(parseArgs(['eip-associator', '--env', 'dev']), environment(fixture(), ['aws']));
    const ran: string[] = [];
    const code = runPlan(
      p,
      (c) => {
        ran.push(c.args[2] === 'release:pack' ? 'release:pack' : (c.args[1] ?? c.cmd));
        return c.args[1] === 'package' ? 255 : 0;
      },
      () => {},
    );
    expect(code).toBe(255);
    expect(ran).toEqual(['turbo', 'release:pack', 'package']);
  });
});

describe('the samconfig.toml of every package', () => {
  const { packageTemplates } = discoverTemplates();

  // SAM's convention: [<env>.global.parameters] applies to every command ("Configuring the AWS SAM
  // CLI", serverless-sam-cli-config), so `sam delete`, `sam logs` and `sam sync --config-env <env>`
  // find the stack `sam deploy --config-env <env>` made.
  it.each([
    ...packageTemplates,
  ])('%s: sam delete, logs and sync find the stack deploy makes (stack_name in the global section)', (_pkg, template) => {
    const file = join(template, '..', 'samconfig.toml');
    const deployed = readSamConfig(file).environments;
    for (const command of ['delete', 'logs', 'sync', 'list_stack_outputs']) {
      for (const [env, values] of readSamConfig(file, command).environments) {
        expect(values['stack_name'], `${command} --config-env ${env}`).toBe(
          deployed.get(env)?.['stack_name'],
        );
      }
    }
  });

  it.each([
    ...packageTemplates,
  ])('%s: next to its template, with default, dev, staging and production', (pkg, template) => {
    const config = readSamConfig(join(template, '..', 'samconfig.toml'));
    expect([...config.environments.keys()]).toEqual(['default', 'dev', 'staging', 'production']);
    for (const [env, values] of config.environments) {
      expect(values['stack_name'], env).toMatch(
        new RegExp(`^netkit-(${env === 'production' ? 'prod-' : env === 'default' ? '' : `${env}-`})${pkg}$`),
      );
      expect(values['capabilities'], env).toBe('CAPABILITY_IAM');
    }
    expect(config.environments.get('production')?.['confirm_changeset']).toBe(true);
  });

  it.each([
    ...packageTemplates,
  ])('%s: plans a dev deploy from it, with sam and with the AWS CLI, once the required parameters have values', (pkg, template) => {
    const parsed = loadTemplate(template);
    const required = Object.keys(parsed.Parameters ?? {}).filter(
      (k) => parsed.Parameters?.[k]?.['Default'] === undefined,
    );
    const env = (installed: string[]): Environment => ({
      which: (c) => (installed.includes(c) ? `/usr/bin/${c}` : undefined),
      templates: new Map([[pkg, template]]),
      parametersOf: (file) => loadTemplate(file).Parameters ?? {},
      samConfigOf: (file) => readSamConfig(join(file, '..', 'samconfig.toml')),
    });
    if (required.length > 0) {
      expect(() => planDeploy(parseArgs([pkg, '--env', 'dev']), env(['sam']))).toThrow(
        new RegExp(`${required.join(', ')} ha(s|ve) no Default`),
      );
    }
    const values = rehearsalParameters(
      parsed,
      {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        securityGroupId: 'sg-0123456789abcdef0',
      },
      rehearsalOverrides[pkg] ?? {},
    );
    const overrides = ['--parameter-overrides', ...required.map((k) => `${k}=${values[k]}`)];
    const sam = planDeploy(
      parseArgs([pkg, '--env', 'dev', ...(required.length > 0 ? overrides : [])]),
      env(['sam']),
    );
    expect(sam.commands[2]?.cwd).toBe(join(template, '..'));
    const aws = planDeploy(
      parseArgs([pkg, '--env', 'dev', '--s3-bucket', 'b', ...(required.length > 0 ? overrides : [])]),
      env(['aws']),
    );
    expect(aws.commands[3]?.args.slice(0, 6)).toEqual([
      'cloudformation',
      'deploy',
      '--template-file',
      '.aws-sam/packaged-dev.yaml',
      '--stack-name',
      `netkit-dev-${pkg}`,
    ]);
  });

  it('nat-reaper: the README imports the export of the stack samconfig names', () => {
    const readme = readFileSync(join(REPO_ROOT, 'packages', 'nat-reaper', 'README.md'), 'utf8');
    const config = readSamConfig(join(INFRA_DIR, 'nat-reaper', 'samconfig.toml'));
    const stack = config.environments.get('default')?.['stack_name'];
    const imports = [...readme.matchAll(/!ImportValue\s+(\S+)/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const name of imports) expect(name).toBe(`${stack}-ServiceToken`);
  });
});

describe('--asg: the doctor after the deploy', () => {
  it('runs the read-only doctor for the deployed stack and region after the deploy, and its findings fail the command', () => {
    const template = fixture();
    const env = environment(template);
    const commands = planDeploy(
      parseArgs(['eip-associator', '--env', 'dev', '--asg', 'web asg']),
      env,
    ).commands;
    const doctor = commands.at(-1);
    expect(commands.map((c) => c.cmd)).toEqual(['pnpm', 'pnpm', 'sam', 'pnpm']);
    expect(doctor?.cwd).toBe(REPO_ROOT);
    expect(doctor?.args).toEqual([
      'run',
      '--silent',
      'doctor',
      'eip-associator',
      '--asg',
      'web asg',
      '--stack',
      'netkit-dev-eip-associator',
      '--region',
      'eu-west-1',
    ]);
    // The doctor's own parser reads that command line back.
    expect(parseDoctorArgs(doctor!.args.slice(3))).toMatchObject({
      packageName: 'eip-associator',
      groupName: 'web asg',
      stack: 'netkit-dev-eip-associator',
      region: 'eu-west-1',
    });
    // A finding (doctor exit 1) after a successful deploy is the command's exit code.
    const ran: Command[] = [];
    const code = main(
      ['eip-associator', '--env', 'dev', '--asg', 'web asg'],
      env,
      (c) => {
        ran.push(c);
        return c.args.includes('doctor') ? 1 : 0;
      },
      () => {},
    );
    expect(code).toBe(1);
    expect(ran.map((c) => c.cmd)).toEqual(['pnpm', 'pnpm', 'sam', 'pnpm']);
  });

  it('runs no doctor without --asg, and refuses --asg for packages that serve no group', () => {
    const template = fixture();
    expect(plan(['eip-associator', '--env', 'dev'], template).some((c) => c.args.includes('doctor'))).toBe(
      false,
    );
    const env = { ...environment(template), templates: new Map([['nat-reaper', template]]) };
    const result = run(['nat-reaper', '--env', 'dev', '--asg', 'web'], env);
    expect(result.code).toBe(2);
    expect(result.out).toMatch(
      /--asg checks eip-associator, eni-attach, eni-pool-agent; none of nat-reaper serves a group/,
    );
    expect(result.ran).toEqual([]);
  });
});
