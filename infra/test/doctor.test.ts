// `pnpm run doctor` against the local emulator: a correctly configured group and stack exit 0; each
// misconfiguration the doctor knows exits 1 naming it; bad arguments exit 2. Every test records the
// calls the emulator received while the doctor ran and fails on any that is not Describe/List/Get.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AllocateAddressCommand,
  CreateLaunchTemplateCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Emulator } from '@netkit/local-aws';
import { useEmulator } from '@netkit/local-aws/vitest';
import { describe, expect, it, vi } from 'vitest';
import type { DoctorFinding } from '../src/doctor/checks.ts';
import { main } from '../src/doctor/cli.ts';
import type { DoctorClients } from '../src/doctor/collect.ts';

const emu = useEmulator();
const T = 120_000; // emulator calls on a loaded 2-core machine; no timing is asserted
const GROUP = 'web-asg';
const STACK = 'netkit-doctor-test';
const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;

function clientsOf(e: Emulator): DoctorClients {
  return {
    autoscaling: new AutoScalingClient(e.clientConfig),
    ec2: new EC2Client(e.clientConfig),
    cloudformation: new CloudFormationClient(e.clientConfig),
    lambda: new LambdaClient(e.clientConfig),
  };
}

/**
 * Every command the doctor's clients send, by name. The emulator's counter sees query and JSON APIs
 * by action; Lambda's REST API carries no action name, so the client side records every command too.
 */
let sent: string[] = [];
function recordingClientsOf(e: Emulator): DoctorClients {
  const clients = clientsOf(e);
  for (const client of Object.values(clients)) {
    // One middleware shape for all four clients; typed through one of them.
    (client as AutoScalingClient).middlewareStack.add(
      (next, context) => (args) => {
        sent.push(`${context.clientName}:${context.commandName}`);
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
  }
  return clients;
}

interface Setup {
  packageName: 'eni-pool-agent' | 'eip-associator' | 'eni-attach';
  maxSize?: number;
  /** Pool members per AZ (ENIs) or in total (EIPs, key '*'). */
  pool?: Record<string, number>;
  hostnames?: boolean;
  metadataTags?: 'enabled' | 'disabled' | undefined;
  hook?: { defaultResult?: string; heartbeatTimeout?: number } | 'missing';
  env?: Record<string, string>;
  deployStack?: boolean;
}

async function setup(s: Setup): Promise<{ azs: string[]; subnets: Record<string, string> }> {
  const e = emu();
  const c = clientsOf(e);
  const azs = [`${e.region}a`, `${e.region}b`];
  const vpc = await c.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const subnets: Record<string, string> = {};
  for (const [i, az] of azs.entries()) {
    const out = await c.ec2.send(
      new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: az }),
    );
    subnets[az] = out.Subnet!.SubnetId!;
  }
  const lt = await c.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'web',
      LaunchTemplateData: {
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        ...(s.metadataTags
          ? { MetadataOptions: { HttpTokens: 'required', InstanceMetadataTags: s.metadataTags } }
          : {}),
      },
    }),
  );
  await c.autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: GROUP,
      MinSize: 0,
      MaxSize: s.maxSize ?? 2,
      DesiredCapacity: 0,
      VPCZoneIdentifier: Object.values(subnets).join(','),
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Latest' },
    }),
  );
  if (s.hook !== 'missing') {
    await c.autoscaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: 'launch',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        DefaultResult: s.hook?.defaultResult ?? 'ABANDON',
        HeartbeatTimeout: s.hook?.heartbeatTimeout ?? 900,
      }),
    );
  }
  const pool = s.pool ?? { [azs[0]!]: 2, [azs[1]!]: 2, '*': 2 };
  if (s.packageName === 'eni-pool-agent') {
    let n = 10;
    for (const az of azs) {
      for (let i = 0; i < (pool[az] ?? 0); i++) {
        n++;
        await c.ec2.send(
          new CreateNetworkInterfaceCommand({
            SubnetId: subnets[az],
            TagSpecifications: [
              {
                ResourceType: 'network-interface',
                Tags: [
                  { Key: 'netkit:eni-pool', Value: 'web' },
                  ...(s.hostnames === false ? [] : [{ Key: 'HostName', Value: `server-${n}` }]),
                ],
              },
            ],
          }),
        );
      }
    }
  }
  if (s.packageName === 'eip-associator') {
    for (let i = 0; i < (pool['*'] ?? 0); i++) {
      await c.ec2.send(
        new AllocateAddressCommand({
          Domain: 'vpc',
          TagSpecifications: [
            { ResourceType: 'elastic-ip', Tags: [{ Key: 'netkit:eip-pool', Value: 'web' }] },
          ],
        }),
      );
    }
  }
  if (s.deployStack !== false) {
    const functionId = s.packageName === 'eni-attach' ? 'LaunchFunction' : 'Function';
    const baseEnv: Record<string, Record<string, string>> = {
      'eni-pool-agent': {
        ENI_POOL_TAGS: '{"netkit:eni-pool":"web"}',
        HOSTNAME_TAG: 'HostName',
        ATTACH_TIMEOUT_SECONDS: '120',
      },
      'eip-associator': { EIP_POOL_TAGS: '{"netkit:eip-pool":"web"}', DEADLINE_MARGIN_SECONDS: '10' },
      'eni-attach': { SUBNET_MAP: JSON.stringify(subnets) },
    };
    const template = {
      Parameters: {
        LaunchHookName: { Type: 'String', Default: 'launch' },
        TerminateHookName: { Type: 'String', Default: '' },
      },
      Resources: {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
              ],
            },
          },
        },
        [functionId]: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Runtime: 'nodejs22.x',
            Handler: 'index.handler',
            Timeout: s.packageName === 'eip-associator' ? 600 : 120,
            Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
            Code: { ZipFile: 'export const handler = async () => ({});' },
            Environment: {
              Variables: {
                AUTO_SCALING_GROUP_NAME: GROUP,
                LIFECYCLE_HOOK_NAMES: 'launch',
                ...baseEnv[s.packageName],
                ...s.env,
              },
            },
          },
        },
      },
    };
    await c.cloudformation.send(
      new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template) }),
    );
    const stack = await c.cloudformation.send(new DescribeStacksCommand({ StackName: STACK }));
    expect(stack.Stacks?.[0]?.StackStatus).toBe('CREATE_COMPLETE');
  }
  return { azs, subnets };
}

async function doctor(
  args: string[],
): Promise<{ code: number; out: string; err: string; findings: DoctorFinding[] }> {
  const e = emu();
  let out = '';
  let err = '';
  await e.resetCalls();
  sent = [];
  const code = await main(args, {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
    clients: () => recordingClientsOf(e),
  });
  const calls = Object.keys(await e.calls());
  expect(
    calls.filter((name) => !READ_ONLY.test(name)),
    'only Describe/List/Get calls',
  ).toEqual([]);
  expect(
    sent.filter((name) => !/^[A-Za-z0-9]+Client:(Describe|List|Get)[A-Za-z]*Command$/.test(name)),
    'only Describe/List/Get commands',
  ).toEqual([]);
  const findings =
    args.includes('--json') && out.trim().startsWith('{')
      ? (JSON.parse(out).findings as DoctorFinding[])
      : [];
  return { code, out, err, findings };
}

const run = (pkg: string, ...extra: string[]) =>
  doctor([pkg, '--asg', GROUP, '--region', emu().region, '--stack', STACK, '--json', ...extra]);

describe('doctor eni-pool-agent', () => {
  it('exits 0 with no finding for a correctly configured group, reading only', { timeout: T }, async () => {
    await setup({ packageName: 'eni-pool-agent', metadataTags: 'enabled' });
    const result = await run('eni-pool-agent');
    expect(result.findings).toEqual([]);
    expect(result.code).toBe(0);
    // The doctor read the group, hooks, stack, function, pool and launch template.
    const calls = Object.keys(await emu().calls());
    expect(calls).toEqual(
      expect.arrayContaining([
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
        'cloudformation:DescribeStacks',
        'cloudformation:DescribeStackResource',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeLaunchTemplateVersions',
      ]),
    );
    expect(sent).toContain('LambdaClient:GetFunctionConfigurationCommand');
  });

  it('names a launch hook with DefaultResult CONTINUE', { timeout: T }, async () => {
    await setup({
      packageName: 'eni-pool-agent',
      metadataTags: 'enabled',
      hook: { defaultResult: 'CONTINUE' },
    });
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({
        check: 'launch-hook-default-result',
        actual: 'CONTINUE',
        expected: 'ABANDON',
      }),
    ]);
  });

  it('names a missing launch hook', { timeout: T }, async () => {
    await setup({ packageName: 'eni-pool-agent', metadataTags: 'enabled', hook: 'missing' });
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(1);
    expect(result.findings.map((f) => f.check)).toEqual(['launch-hook-missing']);
    expect(result.findings[0]?.setting).toContain('launch');
  });

  it('names a HeartbeatTimeout below the function wait plus margin', { timeout: T }, async () => {
    await setup({ packageName: 'eni-pool-agent', metadataTags: 'enabled', hook: { heartbeatTimeout: 120 } });
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({ check: 'launch-hook-heartbeat-timeout', actual: '120 s' }),
    ]);
    expect(result.findings[0]?.expected).toMatch(/at least 150 s/);
  });

  it('names the AZ whose pool is smaller than the group MaxSize', { timeout: T }, async () => {
    const region = emu().region;
    await setup({
      packageName: 'eni-pool-agent',
      metadataTags: 'enabled',
      maxSize: 2,
      pool: { [`${region}a`]: 2, [`${region}b`]: 1 },
    });
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({
        check: 'pool-smaller-than-group',
        actual: '1',
        setting: `pool ENIs in ${region}b`,
      }),
    ]);
  });

  it(
    'names instance metadata tags that are off while pool ENIs carry hostnames',
    { timeout: T },
    async () => {
      await setup({ packageName: 'eni-pool-agent', metadataTags: 'disabled' });
      const result = await run('eni-pool-agent');
      expect(result.code).toBe(1);
      expect(result.findings).toEqual([
        expect.objectContaining({ check: 'instance-metadata-tags', actual: 'disabled' }),
      ]);
    },
  );

  it('does not ask for metadata tags when no pool ENI carries a hostname', { timeout: T }, async () => {
    await setup({ packageName: 'eni-pool-agent', metadataTags: undefined, hostnames: false });
    const result = await run('eni-pool-agent');
    expect(result.findings).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('names a stack that is not deployed, and still checks the hooks', { timeout: T }, async () => {
    await setup({
      packageName: 'eni-pool-agent',
      metadataTags: 'enabled',
      deployStack: false,
      hook: { defaultResult: 'CONTINUE' },
    });
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(1);
    expect(result.findings.map((f) => f.check)).toEqual(['stack-missing', 'launch-hook-default-result']);
  });

  it('prints each finding with the setting, what it should be and the fix', { timeout: T }, async () => {
    await setup({
      packageName: 'eni-pool-agent',
      metadataTags: 'enabled',
      hook: { defaultResult: 'CONTINUE' },
    });
    const result = await doctor([
      'eni-pool-agent',
      '--asg',
      GROUP,
      '--region',
      emu().region,
      '--stack',
      STACK,
    ]);
    expect(result.code).toBe(1);
    expect(result.out).toContain('[launch-hook-default-result] lifecycle hook launch');
    expect(result.out).toContain('DefaultResult: CONTINUE');
    expect(result.out).toContain('should be: ABANDON');
    expect(result.out).toMatch(/fix: set DefaultResult: ABANDON/);
  });
});

describe('doctor eni-attach', () => {
  it('exits 0 when SUBNET_MAP covers every AZ of the group', { timeout: T }, async () => {
    await setup({ packageName: 'eni-attach' });
    const result = await run('eni-attach');
    expect(result.findings).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('names an AZ of the group missing from SUBNET_MAP', { timeout: T }, async () => {
    const region = emu().region;
    await setup({
      packageName: 'eni-attach',
      env: { SUBNET_MAP: JSON.stringify({ [`${region}a`]: 'subnet-12345678' }) },
    });
    const result = await run('eni-attach');
    expect(result.code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({ check: 'subnet-map-missing-az', setting: 'SUBNET_MAP' }),
    ]);
    expect(result.findings[0]?.actual).toContain(`${region}b`);
  });
});

describe('doctor eip-associator', () => {
  it('exits 0 when the pool holds MaxSize EIPs', { timeout: T }, async () => {
    await setup({ packageName: 'eip-associator', pool: { '*': 2 } });
    const result = await run('eip-associator');
    expect(result.findings).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('names a pool smaller than the group MaxSize', { timeout: T }, async () => {
    await setup({ packageName: 'eip-associator', pool: { '*': 1 }, maxSize: 3 });
    const result = await run('eip-associator');
    expect(result.code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({ check: 'pool-smaller-than-group', actual: '1' }),
    ]);
  });
});

describe('doctor before anything is deployed (preflight)', () => {
  it.each([
    ['eip-associator', 'waits up to 290 s'],
    ['eni-attach', 'waits up to 120 s'],
    ['eni-pool-agent', 'waits up to 120 s'],
  ] as const)(
    '%s: checks a 30 s HeartbeatTimeout against the function the template deploys with its defaults',
    { timeout: T },
    async (packageName, wait) => {
      await setup({
        packageName,
        metadataTags: 'enabled',
        deployStack: false,
        hook: { defaultResult: 'ABANDON', heartbeatTimeout: 30 },
      });
      const result = await run(packageName);
      expect(result.code).toBe(1);
      expect(result.findings.map((f) => f.check)).toEqual(['stack-missing', 'launch-hook-heartbeat-timeout']);
      expect(result.findings[1]).toMatchObject({ actual: '30 s', resource: 'lifecycle hook launch' });
      expect(result.findings[1]?.expected).toContain(wait);
    },
  );
});

describe('doctor region and credentials', () => {
  it(
    'takes the region from the AWS profile through the SDK default chain (no AWS_REGION)',
    { timeout: T },
    async () => {
      const e = emu();
      await setup({ packageName: 'eni-pool-agent', metadataTags: 'enabled' });
      const home = mkdtempSync(join(tmpdir(), 'netkit-doctor-profile-'));
      writeFileSync(join(home, 'config'), `[profile netkit-ops]\nregion = ${e.region}\n`);
      writeFileSync(
        join(home, 'credentials'),
        '[netkit-ops]\naws_access_key_id = test\naws_secret_access_key = test\n',
      );
      vi.stubEnv('AWS_REGION', undefined);
      vi.stubEnv('AWS_DEFAULT_REGION', undefined);
      vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
      vi.stubEnv('AWS_PROFILE', 'netkit-ops');
      vi.stubEnv('AWS_CONFIG_FILE', join(home, 'config'));
      vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(home, 'credentials'));
      vi.stubEnv('AWS_ENDPOINT_URL', e.url);
      let out = '';
      let err = '';
      try {
        // No clients injected: the doctor's own clients, as `pnpm run doctor` builds them.
        const code = await main(['eni-pool-agent', '--asg', GROUP, '--stack', STACK, '--json'], {
          out: (t) => {
            out += t;
          },
          err: (t) => {
            err += t;
          },
        });
        expect(err).toBe('');
        expect(JSON.parse(out).findings).toEqual([]);
        expect(code).toBe(0);
      } finally {
        vi.unstubAllEnvs();
        rmSync(home, { recursive: true, force: true });
      }
    },
  );

  it('exits 2 naming the ways to give a region when there is none', { timeout: T }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'netkit-doctor-noregion-'));
    writeFileSync(join(home, 'config'), '');
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', join(home, 'config'));
    vi.stubEnv('AWS_ENDPOINT_URL', emu().url);
    let err = '';
    try {
      const code = await main(['eni-pool-agent', '--asg', GROUP, '--stack', STACK], {
        out: () => undefined,
        err: (t) => {
          err += t;
        },
      });
      expect(code).toBe(2);
      expect(err).toContain(
        'no region: pass --region <region>, set AWS_REGION, or set region in your AWS profile',
      );
    } finally {
      vi.unstubAllEnvs();
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('doctor usage', () => {
  it.each([
    [[], /name exactly one package/],
    [['eni-pool-agent'], /--asg <group> is required/],
    [['nat-reaper', '--asg', GROUP], /not one of them/],
    [['eni-pool-agent', '--asg'], /--asg needs a value/],
    [['eni-pool-agent', '--asg', GROUP, '--bogus'], /unknown option --bogus/],
  ])('exits 2 for %j', { timeout: T }, async (args, message) => {
    const result = await doctor(args as string[]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(await emu().calls()).toEqual({});
  });

  it('exits 2 naming a group that does not exist', { timeout: T }, async () => {
    const result = await run('eni-pool-agent');
    expect(result.code).toBe(2);
    expect(result.err).toContain(`no Auto Scaling group named '${GROUP}'`);
  });
});

describe('the read-only recorder', () => {
  it('sees a mutating call, so the read-only assertions can fail', { timeout: T }, async () => {
    await setup({ packageName: 'eni-pool-agent', deployStack: false });
    await emu().resetCalls();
    sent = [];
    await recordingClientsOf(emu()).autoscaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: 'launch',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      }),
    );
    expect(sent).toEqual(['AutoScalingClient:PutLifecycleHookCommand']);
    expect(Object.keys(await emu().calls()).filter((name) => !READ_ONLY.test(name))).toEqual([
      'autoscaling:PutLifecycleHook',
    ]);
  });
});
