// What a user does, against the local emulator: `pnpm run deploy` without `sam` on PATH (the AWS
// CLI fallback) from a checkout without infra/<pkg>/.aws-sam, and a released template deployed
// from a folder holding only the release's zip and template. The AWS CLI finds the emulator
// through AWS_ENDPOINT_URL alone. The emulator expands the SAM transform on CreateChangeSet as
// CloudFormation does (tools/local-aws); resource types moto cannot create are listed in
// MOTO_GAPS and asserted to be the only ones missing.
//
// eip-associator is the package deployed: every resource of its stack is created by the
// emulator except the MOTO_GAPS types (queue policy, EventInvokeConfig).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import {
  AllocateAddressCommand,
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type Emulator, startEmulator } from '@netkit/local-aws';
import { lifecycleEvent } from '@netkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Template } from '../src/cfn-yaml.ts';
import { MOTO_GAPS } from '../src/rehearse.ts';
import { INFRA_DIR, REPO_ROOT, samTranslate } from '../src/tools.ts';
import { inCheckoutAsync, sharedCheckoutDir } from './support/shared-checkout.ts';

const LONG = 900_000; // the AWS CLI starts slowly on a loaded 2-core machine; no timing is asserted
const PKG = 'eip-associator';
const BUCKET = 'netkit-deploy-artifacts';

let emulator: Emulator;
let env: NodeJS.ProcessEnv;
/**
 * Commands that build run in the run's shared scratch checkout (test/support/shared-checkout.ts),
 * because a build in the repository itself would rewrite a dist/ that other test processes import
 * beside this one. The release test builds there too; whichever runs first builds, the other's
 * build is a turbo cache hit, and no two commands run in the checkout at once.
 */
function inCheckout(cmd: string, args: string[]): Promise<{ code: number; output: string; dir: string }> {
  return inCheckoutAsync(async (dir) => ({ ...(await run(cmd, args, dir)), dir }));
}

/** PATH without any folder that holds a `sam` executable: the fallback is what runs. */
function pathWithoutSam(): string {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, 'sam')))
    .join(delimiter);
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** The uploaded function code, unzipped by an independent unzipper (Python's zipfile) in a new folder. */
function unzipped(zipBody: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'netkit-deployed-code-'));
  writeFileSync(join(dir, 'code.zip'), zipBody);
  const r = spawnSync(
    process.env['PYTHON'] ?? 'python3',
    ['-m', 'zipfile', '-e', join(dir, 'code.zip'), dir],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`unzip the deployed code: ${r.stderr}`);
  return dir;
}

async function stackResources(cfn: CloudFormationClient, stack: string): Promise<StackResourceSummary[]> {
  const out = await cfn.send(new ListStackResourcesCommand({ StackName: stack }));
  return out.StackResourceSummaries ?? [];
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('base64');
}

/**
 * One launch of the group, served by the uploaded code (unzipped in `codeDir`) in a fresh Node
 * process with the deployed function's environment and its own credentials.
 */
async function launchAsDeployedFunction(
  packagedTemplate: string,
  resources: StackResourceSummary[],
  variables: Record<string, string>,
  codeDir: string,
) {
  const physical = (id: string) =>
    resources.find((r) => r.LogicalResourceId === id)?.PhysicalResourceId ?? id;
  const identity = await emulator.iam.registerFromTemplate({
    template: packagedTemplate,
    logicalId: 'Function',
    parameters: { AutoScalingGroupName: 'web asg', EipPoolName: 'prod ForwardProxy' },
    physicalIds: { DeadLetterQueue: physical('DeadLetterQueue'), FunctionRole: physical('FunctionRole') },
  });
  // Set-up with the unrestricted key: an instance of the group (Auto Scaling's tag) and a pool EIP.
  const ec2 = new EC2Client(emulator.clientConfig);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.7.0.0/16' }));
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: '10.7.0.0/24' }),
  );
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnet.Subnet!.SubnetId!,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web asg' }] },
      ],
    }),
  );
  const instanceId = run.Instances![0]!.InstanceId!;
  const eip = await ec2.send(
    new AllocateAddressCommand({
      Domain: 'vpc',
      TagSpecifications: [
        { ResourceType: 'elastic-ip', Tags: [{ Key: 'netkit:eip-pool', Value: 'prod ForwardProxy' }] },
      ],
    }),
  );
  const hookName = (variables['LIFECYCLE_HOOK_NAMES'] ?? '').split(',')[0]!;
  const token = await emulator.lifecycle.begin({ groupName: 'web asg', hookName, instanceId });
  const event = lifecycleEvent('launch', { instanceId, token, groupName: 'web asg', hookName });
  const bundle = join(codeDir, 'index.mjs');
  const driver = `
    const { handler } = await import(${JSON.stringify(bundle)});
    const deadline = Date.now() + 60000;
    const result = await handler(${JSON.stringify(event)}, { awsRequestId: 'deployed-1', getRemainingTimeInMillis: () => deadline - Date.now() });
    process.stdout.write('\\nRESULT ' + JSON.stringify(result) + '\\n');
  `;
  const stdout = await new Promise<string>((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', driver],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          ...identity.env,
          ...variables,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
          POWERTOOLS_TRACE_ENABLED: 'false',
        },
      },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolvePromise(out)),
    );
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT ')) ?? 'RESULT null';
  const addresses = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }));
  return {
    instanceId,
    result: JSON.parse(line.slice('RESULT '.length)) as unknown,
    associatedTo: addresses.Addresses?.[0]?.InstanceId,
  };
}

beforeAll(async () => {
  emulator = await startEmulator();
  // Only the emulator's variables reach the AWS CLI: endpoint, region, test credentials.
  env = {
    PATH: pathWithoutSam(),
    HOME: process.env['HOME'],
    ...emulator.env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  for (const key of ['PYTHON', 'TURBO_TELEMETRY_DISABLED', 'CI'])
    if (process.env[key]) env[key] = process.env[key];
  const made = await run('aws', ['s3api', 'create-bucket', '--bucket', BUCKET], REPO_ROOT);
  expect(made.code, made.output).toBe(0);
}, LONG);

afterAll(async () => {
  await emulator?.stop();
});

/** Every resource of the translated template was created, except types moto cannot create. */
function expectOnlyMotoGaps(resources: StackResourceSummary[], templateFile: string): void {
  const translated = samTranslate([templateFile]).get(templateFile) as Template;
  const created = new Set(
    resources
      .filter((r) => r.ResourceStatus === 'CREATE_COMPLETE' && r.LogicalResourceId)
      .map((r) => r.LogicalResourceId),
  );
  const notCreated = Object.entries(translated.Resources)
    .filter(([id]) => !created.has(id))
    .map(([id, r]) => `${id} (${r.Type})`);
  expect(
    notCreated.filter((r) => MOTO_GAPS[/\((.*)\)/.exec(r)?.[1] ?? ''] === undefined),
    `not created: ${notCreated.join(', ')}`,
  ).toEqual([]);
  expect(created.has('Function')).toBe(true);
  expect(created.has('FunctionRole')).toBe(true);
}

describe('pnpm run deploy through the AWS CLI fallback, on a checkout without .aws-sam (scratch checkouts never copy it)', () => {
  it(
    'builds, packages and deploys eip-associator (samconfig [dev]): CREATE_COMPLETE, the function runs the uploaded bundle, a value with a space arrives whole',
    async () => {
      // Only this test deploys in the checkout, and a scratch checkout copies no ignored folder.
      expect(existsSync(join(sharedCheckoutDir(), 'infra', PKG, '.aws-sam'))).toBe(false);
      const result = await inCheckout('pnpm', [
        'run',
        'deploy',
        PKG,
        '--env',
        'dev',
        '--s3-bucket',
        BUCKET,
        '--region',
        emulator.region,
        '--parameter-overrides',
        'AutoScalingGroupName=web asg',
        'EipPoolName=prod ForwardProxy',
      ]);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toMatch(/'sam' was not found on PATH/);

      const cfn = new CloudFormationClient(emulator.clientConfig);
      const stackName = `netkit-dev-${PKG}`; // stack_name of infra/eip-associator/samconfig.toml [dev]
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
      expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
      expect(stack?.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'netkit:package', Value: PKG },
          { Key: 'netkit:environment', Value: 'dev' },
        ]),
      );
      expect(stack?.Parameters).toEqual(
        expect.arrayContaining([
          { ParameterKey: 'AutoScalingGroupName', ParameterValue: 'web asg' },
          { ParameterKey: 'EipPoolName', ParameterValue: 'prod ForwardProxy' },
        ]),
      );
      const resources = await stackResources(cfn, stackName);
      expectOnlyMotoGaps(resources, join(INFRA_DIR, PKG, 'template.yaml'));

      const fnName = resources.find((r) => r.LogicalResourceId === 'Function')?.PhysicalResourceId as string;
      const fn = await new LambdaClient(emulator.clientConfig).send(
        new GetFunctionCommand({ FunctionName: fnName }),
      );
      expect(fn.Configuration?.Handler).toBe('index.handler');
      expect(fn.Configuration?.Environment?.Variables?.['EIP_POOL_TAGS']).toBe(
        '{"netkit:eip-pool":"prod ForwardProxy"}',
      );
      // The function's code is the release zip the deploy packed (release:pack), uploaded as is by
      // `aws cloudformation package`: no metafile, no source maps, no CLIs.
      const { version } = JSON.parse(
        readFileSync(join(REPO_ROOT, 'packages', PKG, 'package.json'), 'utf8'),
      ) as {
        version: string;
      };
      const releaseZip = join(result.dir, 'infra', PKG, '.aws-sam', 'release', `${PKG}-${version}.zip`);
      expect(existsSync(releaseZip), 'the deploy packs the release zip').toBe(true);
      const packaged = readFileSync(join(result.dir, 'infra', PKG, '.aws-sam', 'packaged-dev.yaml'), 'utf8');
      const key = /CodeUri: s3:\/\/[^/]+\/(\S+)/.exec(packaged)?.[1];
      expect(key, packaged).toMatch(new RegExp(`^netkit-dev-${PKG}/`));
      // moto routes a request by the credential scope of its signature (it does not verify it).
      const s3 = await fetch(`${emulator.url}/${BUCKET}/${key}`, {
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${emulator.region}/s3/aws4_request, SignedHeaders=host, Signature=0`,
        },
      });
      expect(s3.status).toBe(200);
      const body = Buffer.from(await s3.arrayBuffer());
      expect(fn.Configuration?.CodeSize).toBe(body.length);
      expect(fn.Configuration?.CodeSha256).toBe(createHash('sha256').update(body).digest('base64'));
      expect(body.equals(readFileSync(releaseZip)), 'the uploaded object is the release zip').toBe(true);

      // The deployed bundle serves a launch as the deployed function: its environment, and an access
      // key the emulator maps to the role's policies from the deployed (packaged) template.
      const outcome = await launchAsDeployedFunction(
        join(result.dir, 'infra', PKG, '.aws-sam', 'packaged-dev.yaml'),
        resources,
        fn.Configuration?.Environment?.Variables ?? {},
        unzipped(body),
      );
      expect(outcome.result).toMatchObject({ status: 'done' });
      expect(outcome.associatedTo).toBe(outcome.instanceId);
      expect(await emulator.iam.refusals()).toEqual([]);

      // The doctor after the deploy, as `pnpm run deploy --asg` runs it: the emulator answers
      // DescribeStackResource on the deployed stack (which holds types moto does not create).
      const region = emulator.region;
      const asg = new AutoScalingClient(emulator.clientConfig);
      const lt = await new EC2Client(emulator.clientConfig).send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'web',
          LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
        }),
      );
      await asg.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: 'web asg',
          MinSize: 0,
          MaxSize: 0,
          AvailabilityZones: [`${region}a`],
          LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate?.LaunchTemplateId, Version: '$Latest' },
        }),
      );
      await asg.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: 'web asg',
          LifecycleHookName: 'associate-eip',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          DefaultResult: 'ABANDON',
          HeartbeatTimeout: 720,
        }),
      );
      const doctor = await inCheckout('pnpm', [
        'run',
        '--silent',
        'doctor',
        PKG,
        '--asg',
        'web asg',
        '--env',
        'dev',
        '--json',
      ]);
      expect(doctor.output).not.toMatch(/NoneType|doctor failed/);
      expect(doctor.code, doctor.output).toBe(0);
      expect(JSON.parse(doctor.output).findings).toEqual([]);
    },
    LONG,
  );

  it(
    'stops before any tool runs when a required parameter has no value',
    async () => {
      const result = await inCheckout('pnpm', [
        'run',
        'deploy',
        PKG,
        '--env',
        'staging',
        '--s3-bucket',
        BUCKET,
      ]);
      expect(result.code).toBe(2);
      expect(result.output).toMatch(/AutoScalingGroupName, EipPoolName have no Default and no value/);
      const cfn = new CloudFormationClient(emulator.clientConfig);
      await expect(
        cfn.send(new DescribeStacksCommand({ StackName: `netkit-staging-${PKG}` })),
      ).rejects.toThrow(/does not exist/);
    },
    LONG,
  );
});

describe('a released template, deployed from a folder holding only the release files', () => {
  it(
    'aws cloudformation package + deploy of <pkg>-<version>.template.yaml: CREATE_COMPLETE, and the function code is the release zip',
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'netkit-release-deploy-'));
      const folder = mkdtempSync(join(tmpdir(), 'netkit-downloaded-'));
      try {
        const packed = await inCheckout('pnpm', ['run', 'release:pack', PKG, '--out', out]);
        expect(packed.code, packed.output).toBe(0);
        const { version } = JSON.parse(
          readFileSync(join(REPO_ROOT, 'packages', PKG, 'package.json'), 'utf8'),
        ) as {
          version: string;
        };
        const zip = `${PKG}-${version}.zip`;
        const template = `${PKG}-${version}.template.yaml`;
        copyFileSync(join(out, zip), join(folder, zip));
        copyFileSync(join(out, template), join(folder, template));

        const packaged = await run(
          'aws',
          [
            'cloudformation',
            'package',
            '--template-file',
            template,
            '--s3-bucket',
            BUCKET,
            '--s3-prefix',
            'released',
            '--output-template-file',
            'packaged.yaml',
          ],
          folder,
        );
        expect(packaged.code, packaged.output).toBe(0);
        const stackName = 'netkit-released-eip-associator';
        const deployed = await run(
          'aws',
          [
            'cloudformation',
            'deploy',
            '--template-file',
            'packaged.yaml',
            '--stack-name',
            stackName,
            '--capabilities',
            'CAPABILITY_IAM',
            '--parameter-overrides',
            'AutoScalingGroupName=web',
            'EipPoolName=blue',
          ],
          folder,
        );
        expect(deployed.code, deployed.output).toBe(0);

        const cfn = new CloudFormationClient(emulator.clientConfig);
        const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
        expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
        const resources = await stackResources(cfn, stackName);
        expectOnlyMotoGaps(resources, join(folder, template));
        const fnName = resources.find((r) => r.LogicalResourceId === 'Function')
          ?.PhysicalResourceId as string;
        const fn = await new LambdaClient(emulator.clientConfig).send(
          new GetFunctionCommand({ FunctionName: fnName }),
        );
        // A zip CodeUri is uploaded as is: the function runs exactly the released zip.
        expect(fn.Configuration?.CodeSha256).toBe(sha256(join(folder, zip)));
      } finally {
        rmSync(out, { recursive: true, force: true });
        rmSync(folder, { recursive: true, force: true });
      }
    },
    LONG,
  );
});
