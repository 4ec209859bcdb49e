import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateVpcCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { ListClustersCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { MOTO_INSTALL_COMMAND, startEmulator } from '../src/index.ts';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients } from './support/aws.ts';

const emu = useEmulator();

describe('emulator basics', () => {
  it('exposes env and clientConfig for the SDK pointing at a loopback URL', () => {
    const e = emu();
    expect(e.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(e.region).toBe('us-east-1');
    expect(e.env).toEqual({
      AWS_ENDPOINT_URL: e.url,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(e.clientConfig).toEqual({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });

  it('reset() wipes moto state', async () => {
    const { ec2 } = clients(emu());
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }));
    await emu().reset();
    await awsError(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.Vpc!.VpcId!] })), 'InvalidVpcID.NotFound');
  });
});

describe('call counters', () => {
  it('counts every request per service:action across protocols', async () => {
    const { ec2, autoscaling, cfn, ecs } = clients(emu());
    await ec2.send(new DescribeVpcsCommand({}));
    await ec2.send(new DescribeVpcsCommand({}));
    await autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
    await cfn.send(new DescribeStacksCommand({}));
    await ecs.send(new ListClustersCommand({}));
    expect(await emu().calls()).toEqual({
      'ec2:DescribeVpcs': 2,
      'autoscaling:DescribeAutoScalingGroups': 1,
      'cloudformation:DescribeStacks': 1,
      'ecs:ListClusters': 1,
    });
    await emu().resetCalls();
    expect(await emu().calls()).toEqual({});
  });
});

describe('fault injection', () => {
  it('fails the nth EC2 call (and `times` calls) with an EC2 XML error, without reaching moto', async () => {
    const { ec2 } = clients(emu());
    await emu().injectFault({
      service: 'ec2',
      action: 'CreateVpc',
      nth: 2,
      times: 2,
      code: 'IncorrectInstanceState',
      message: 'try later',
    });
    await ec2.send(new CreateVpcCommand({ CidrBlock: '10.10.0.0/16' }));
    const error = await awsError(
      ec2.send(new CreateVpcCommand({ CidrBlock: '10.11.0.0/16' })),
      'IncorrectInstanceState',
      400,
    );
    expect(error.message).toBe('try later');
    await awsError(ec2.send(new CreateVpcCommand({ CidrBlock: '10.12.0.0/16' })), 'IncorrectInstanceState');
    await ec2.send(new CreateVpcCommand({ CidrBlock: '10.13.0.0/16' }));
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({
        Filters: [{ Name: 'cidr', Values: ['10.10.0.0/16', '10.11.0.0/16', '10.12.0.0/16', '10.13.0.0/16'] }],
      }),
    );
    expect(vpcs.Vpcs!.map((v) => v.CidrBlock).sort()).toEqual(['10.10.0.0/16', '10.13.0.0/16']);
    expect((await emu().calls())['ec2:CreateVpc']).toBe(4);
  });

  it('resets the connection before the call reaches AWS (nothing happens) or after it did (it happened)', async () => {
    const { ec2 } = clients(emu());
    const cidrs = async () =>
      (
        await ec2.send(
          new DescribeVpcsCommand({ Filters: [{ Name: 'cidr', Values: ['10.20.0.0/16', '10.21.0.0/16'] }] }),
        )
      ).Vpcs!.map((v) => v.CidrBlock);
    await emu().injectFault({ service: 'ec2', action: 'CreateVpc', reset: 'before' });
    const before = await ec2
      .send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))
      .catch((e: unknown) => e);
    expect((before as { code?: string }).code).toBe('ECONNRESET');
    expect(await cidrs()).toEqual([]);

    await emu().injectFault({ service: 'ec2', action: 'CreateVpc', reset: 'after' });
    const after = await ec2
      .send(new CreateVpcCommand({ CidrBlock: '10.21.0.0/16' }))
      .catch((e: unknown) => e);
    expect((after as { code?: string }).code).toBe('ECONNRESET');
    expect(await cidrs()).toEqual(['10.21.0.0/16']);
    expect((await emu().calls())['ec2:CreateVpc']).toBe(2);
  });

  it('fails each call of any action with the given probability in a faulted run (seeded, so repeatable)', async () => {
    const { ec2 } = clients(emu());
    const run = async () => {
      await emu().injectFault({
        service: 'ec2',
        action: '*',
        rate: 0.5,
        seed: 7,
        code: 'InternalError',
        status: 500,
      });
      const outcomes: boolean[] = [];
      for (let i = 0; i < 40; i++) {
        outcomes.push(
          await ec2.send(new DescribeVpcsCommand({})).then(
            () => true,
            () => false,
          ),
        );
      }
      await emu().clearFaults();
      return outcomes;
    };
    const first = await run();
    const failed = first.filter((ok) => !ok).length;
    expect(failed).toBeGreaterThan(10);
    expect(failed).toBeLessThan(30);
    expect(await run()).toEqual(first);
  });

  it('uses the given HTTP status (e.g. 503) for an injected fault', async () => {
    const { ec2 } = clients(emu());
    await emu().injectFault({ service: 'ec2', action: 'DescribeVpcs', code: 'Unavailable', status: 503 });
    await awsError(ec2.send(new DescribeVpcsCommand({})), 'Unavailable', 503);
    await ec2.send(new DescribeVpcsCommand({}));
  });

  it('shapes Auto Scaling and CloudFormation faults as Query XML ErrorResponse', async () => {
    const { autoscaling, cfn } = clients(emu());
    await emu().injectFault({
      service: 'autoscaling',
      action: 'DescribeAutoScalingGroups',
      code: 'ResourceContention',
      message: 'busy',
    });
    await emu().injectFault({
      service: 'cloudformation',
      action: 'DescribeStacks',
      code: 'ValidationError',
      message: 'Stack with id x does not exist',
    });
    // the SDK maps the wire code ResourceContention to its modeled exception ResourceContentionFault
    const asgError = await awsError(
      autoscaling.send(new DescribeAutoScalingGroupsCommand({})),
      'ResourceContentionFault',
      400,
    );
    expect(asgError.message).toBe('busy');
    const cfnError = await awsError(cfn.send(new DescribeStacksCommand({})), 'ValidationError', 400);
    expect(cfnError.message).toBe('Stack with id x does not exist');
  });

  it('shapes ECS faults as JSON __type errors', async () => {
    const { ecs } = clients(emu());
    await emu().injectFault({
      service: 'ecs',
      action: 'ListClusters',
      code: 'ServerException',
      message: 'boom',
      status: 500,
    });
    const error = await awsError(ecs.send(new ListClustersCommand({})), 'ServerException', 500);
    expect(error.message).toBe('boom');
    await ecs.send(new ListClustersCommand({}));
  });

  it('forgets faults on reset', async () => {
    const { ec2 } = clients(emu());
    await emu().injectFault({ service: 'ec2', action: 'DescribeVpcs', code: 'Boom' });
    await emu().reset();
    await ec2.send(new DescribeVpcsCommand({}));
  });

  it('drops every injected fault on clearFaults, keeping moto state', async () => {
    const { ec2 } = clients(emu());
    await emu().injectFault({ service: 'ec2', action: 'DescribeVpcs', code: 'Boom', times: 100 });
    await awsError(ec2.send(new DescribeVpcsCommand({})), 'Boom');
    await awsError(ec2.send(new DescribeVpcsCommand({})), 'Boom');
    await emu().clearFaults();
    const after = await ec2.send(new DescribeVpcsCommand({}));
    expect(after.Vpcs?.length).toBeGreaterThan(0);
  });
});

describe('missing moto', () => {
  it('names the install command when the interpreter does not exist', async () => {
    await expect(startEmulator({ python: '/nonexistent/python3' })).rejects.toThrow(MOTO_INSTALL_COMMAND);
  });

  it('names the install command when python cannot import moto', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'netkit-nomoto-'));
    const wrapper = join(dir, 'python-without-site');
    // -S skips site-packages, so `import moto` fails exactly like an interpreter without moto.
    await writeFile(wrapper, '#!/bin/sh\nexec python3 -S "$@"\n');
    await chmod(wrapper, 0o755);
    await expect(startEmulator({ python: wrapper })).rejects.toThrow(
      /moto is not importable[\s\S]*pip install 'moto\[server\]==5\.2\.1'/,
    );
  });
});
