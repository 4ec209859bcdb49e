// The deploy command's plan: what it would run for one package and for several, bad input, and
// the fallback when `sam` is missing. `which` and the runner are injected: nothing reaches AWS.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Command,
  DeployUsageError,
  type Environment,
  formatPlan,
  main,
  parseArgs,
  planDeploy,
  runPlan,
} from '../src/deploy.ts';
import { INFRA_DIR } from '../src/tools.ts';

const FIXTURE = join(INFRA_DIR, 'test', 'fixtures', 'good.yaml');

function environment(installed: string[] = ['sam', 'aws']): Environment {
  return {
    which: (command) => (installed.includes(command) ? `/usr/bin/${command}` : undefined),
    templates: new Map([
      ['eip-associator', FIXTURE],
      ['nat-reaper', join(INFRA_DIR, 'test', 'fixtures', 'bad-no-dlq.yaml')],
    ]),
    parametersOf: (template) =>
      template === FIXTURE ? ['AutoScalingGroupName', 'LifecycleHookName', 'PoolTagValue'] : [],
  };
}

const line = (c: Command): string => [c.cmd, ...c.args].join(' ');

describe('deploy plan', () => {
  it('builds the package through turbo, then sam-deploys its template as <prefix>-<package>', () => {
    const options = parseArgs(['eip-associator', '--stack-prefix', 'prod', '--region', 'ap-northeast-1']);
    const plan = planDeploy(options, environment());
    expect(plan.tool).toBe('sam');
    expect(plan.commands.map(line)).toEqual([
      'pnpm exec turbo run build --filter=@netkit/eip-associator...',
      'sam deploy --template-file infra/test/fixtures/good.yaml --stack-name prod-eip-associator --region ap-northeast-1 ' +
        '--capabilities CAPABILITY_IAM --resolve-s3 --config-file infra/samconfig.toml --config-env default ' +
        '--no-confirm-changeset --no-fail-on-empty-changeset --tags netkit:package=eip-associator netkit:stack-prefix=prod',
    ]);
  });

  it('builds several packages in one cached turbo run and deploys one stack each, passing each template only its parameters', () => {
    const options = parseArgs([
      'eip-associator',
      'nat-reaper',
      '--stack-prefix',
      'dev',
      '--region',
      'us-east-1',
      '--s3-bucket',
      'my-artifacts',
      '--config-env',
      'dev',
      '--parameter-overrides',
      'AutoScalingGroupName=web-asg',
      'eip-associator:PoolTagValue=blue',
    ]);
    const plan = planDeploy(options, environment());
    expect(plan.commands.map(line)).toEqual([
      'pnpm exec turbo run build --filter=@netkit/eip-associator... --filter=@netkit/nat-reaper...',
      'sam deploy --template-file infra/test/fixtures/good.yaml --stack-name dev-eip-associator --region us-east-1 ' +
        '--capabilities CAPABILITY_IAM --s3-bucket my-artifacts --s3-prefix dev-eip-associator --config-file infra/samconfig.toml ' +
        '--config-env dev --no-confirm-changeset --no-fail-on-empty-changeset --tags netkit:package=eip-associator ' +
        'netkit:stack-prefix=dev --parameter-overrides AutoScalingGroupName=web-asg PoolTagValue=blue',
      'sam deploy --template-file infra/test/fixtures/bad-no-dlq.yaml --stack-name dev-nat-reaper --region us-east-1 ' +
        '--capabilities CAPABILITY_IAM --s3-bucket my-artifacts --s3-prefix dev-nat-reaper --config-file infra/samconfig.toml ' +
        '--config-env dev --no-confirm-changeset --no-fail-on-empty-changeset --tags netkit:package=nat-reaper netkit:stack-prefix=dev',
    ]);
  });

  it('prints the exact commands on --dry-run and runs nothing', () => {
    const ran: Command[] = [];
    const out: string[] = [];
    const code = main(
      ['eip-associator', '--stack-prefix', 'p', '--region', 'eu-west-1', '--dry-run'],
      environment(),
      (c) => {
        ran.push(c);
        return 0;
      },
      (l) => out.push(l),
    );
    expect(code).toBe(0);
    expect(ran).toEqual([]);
    expect(out.join('\n')).toContain('# 1. build eip-associator (turbo, cached)\npnpm exec turbo run build');
    expect(out.join('\n')).toContain(
      'sam deploy --template-file infra/test/fixtures/good.yaml --stack-name p-eip-associator',
    );
  });

  it('runs the commands in order and stops at the first failure with its exit code', () => {
    const plan = planDeploy(
      parseArgs(['eip-associator', 'nat-reaper', '--stack-prefix', 'p', '--region', 'eu-west-1']),
      environment(),
    );
    const ran: string[] = [];
    const code = runPlan(
      plan,
      (c) => {
        ran.push(c.args.includes('p-eip-associator') ? 'deploy eip' : c.cmd);
        return c.args.includes('p-eip-associator') ? 7 : 0;
      },
      () => {},
    );
    expect(code).toBe(7);
    expect(ran).toEqual(['pnpm', 'deploy eip']);
  });
});

describe('deploy input validation', () => {
  it('rejects an unknown package, listing the deployable ones, before running anything', () => {
    const options = parseArgs(['eip-associater', '--stack-prefix', 'p', '--region', 'us-east-1']);
    expect(() => planDeploy(options, environment())).toThrow(
      'unknown package: eip-associater. Deployable packages: eip-associator, nat-reaper',
    );
  });

  it.each([
    [[], /name at least one package/],
    [['eip-associator', '--region', 'us-east-1'], /--stack-prefix is required/],
    [
      ['eip-associator', '--stack-prefix', '9bad', '--region', 'us-east-1'],
      /--stack-prefix '9bad' is not valid/,
    ],
    [['eip-associator', '--stack-prefix', 'p'], /--region is required/],
    [['eip-associator', '--stack-prefix', 'p', '--region', 'tokyo'], /--region 'tokyo' is not an AWS Region/],
    [['eip-associator', '--stack-prefix', 'p', '--region', 'us-east-1', '--force'], /unknown option --force/],
    [['eip-associator', '--stack-prefix', '--region', 'us-east-1'], /--stack-prefix needs a value/],
    [
      ['eip-associator', '--stack-prefix', 'p', '--region', 'us-east-1', '--parameter-overrides', 'oops'],
      /must be Key=Value/,
    ],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(DeployUsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('rejects a parameter override that no selected template declares', () => {
    const options = parseArgs([
      'eip-associator',
      '--stack-prefix',
      'p',
      '--region',
      'us-east-1',
      '--parameter-overrides',
      'PoolTag=web',
    ]);
    expect(() => planDeploy(options, environment())).toThrow(
      /no selected template declares the parameter PoolTag/,
    );
  });

  it('answers bad input with exit code 2 and the reason', () => {
    const out: string[] = [];
    expect(
      main(
        ['nope', '--stack-prefix', 'p', '--region', 'us-east-1'],
        environment(),
        () => 0,
        (l) => out.push(l),
      ),
    ).toBe(2);
    expect(out[0]).toMatch(/^deploy: unknown package: nope/);
  });
});

describe('without sam', () => {
  it('says how to install sam and falls back to aws cloudformation package + deploy', () => {
    const options = parseArgs([
      'eip-associator',
      '--stack-prefix',
      'p',
      '--region',
      'us-east-1',
      '--s3-bucket',
      'artifacts',
      '--parameter-overrides',
      'AutoScalingGroupName=web',
    ]);
    const plan = planDeploy(options, environment(['aws']));
    expect(plan.tool).toBe('aws');
    expect(plan.notes[0]).toMatch(
      /'sam' was not found on PATH\. Install the AWS SAM CLI: https:\/\/docs\.aws\.amazon\.com/,
    );
    expect(plan.commands.slice(1).map(line)).toEqual([
      'aws cloudformation package --template-file infra/test/fixtures/good.yaml --s3-bucket artifacts --s3-prefix p-eip-associator ' +
        '--output-template-file infra/.aws-sam/eip-associator.packaged.yaml --region us-east-1',
      'aws cloudformation deploy --template-file infra/.aws-sam/eip-associator.packaged.yaml --stack-name p-eip-associator ' +
        '--region us-east-1 --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --tags netkit:package=eip-associator ' +
        'netkit:stack-prefix=p --parameter-overrides AutoScalingGroupName=web',
    ]);
    expect(formatPlan(plan)).toContain(
      'Falling back to `aws cloudformation package` + `aws cloudformation deploy`.',
    );
  });

  it('asks for --s3-bucket, since aws cloudformation package cannot create one', () => {
    const options = parseArgs(['eip-associator', '--stack-prefix', 'p', '--region', 'us-east-1']);
    expect(() => planDeploy(options, environment(['aws']))).toThrow(
      /'sam' is not installed\. Install the AWS SAM CLI.*\n.*--s3-bucket/,
    );
  });

  it('fails with both install hints when neither sam nor aws is installed', () => {
    const options = parseArgs([
      'eip-associator',
      '--stack-prefix',
      'p',
      '--region',
      'us-east-1',
      '--s3-bucket',
      'b',
    ]);
    expect(() => planDeploy(options, environment([]))).toThrow(
      /neither 'sam' nor 'aws'.*\n.*SAM CLI.*\n.*AWS CLI/,
    );
  });
});
