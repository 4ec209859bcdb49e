import { CreateNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { ValidationError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { manualClock } from '@netkit/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientToken, createPool, poolStatus } from '../../src/create-pool.ts';
import { parsePoolArgs, runPoolCli } from '../../src/run-pool-cli.ts';
import { awsError, FakeEc2, POOL_TAGS } from '../support/fake-ec2.ts';

const SUBNET = 'subnet-0a1b2c3d4e5f60718';
let fake: FakeEc2;
const deps = () => ({ ec2: fake.client, clock: manualClock(), logger: silentLogger });
const input = (overrides = {}) => ({
  subnetId: SUBNET,
  ips: ['10.0.1.10', '10.0.1.11', '10.0.1.12'],
  hostnamePattern: 'server-c{n}',
  securityGroupIds: ['sg-0123456789abcdef0'],
  tags: POOL_TAGS,
  hostnameTag: 'HostName',
  ...overrides,
});

beforeEach(() => {
  fake = new FakeEc2();
  fake.addSubnet(SUBNET, 'ap-northeast-1c', '10.0.1.0/24');
});

describe('pool create', () => {
  it('creates one tagged ENI per address with hostnames from the pattern', async () => {
    // Act
    const rows = await createPool(input(), { ...deps(), runId: 'run-1' });

    // Assess
    expect(rows.map((r) => [r.privateIp, r.hostname, r.action, r.availabilityZone])).toEqual([
      ['10.0.1.10', 'server-c1', 'created', 'ap-northeast-1c'],
      ['10.0.1.11', 'server-c2', 'created', 'ap-northeast-1c'],
      ['10.0.1.12', 'server-c3', 'created', 'ap-northeast-1c'],
    ]);
    expect(fake.ec2Mock).toHaveReceivedCommandWith(CreateNetworkInterfaceCommand, {
      SubnetId: SUBNET,
      PrivateIpAddress: '10.0.1.10',
      Groups: ['sg-0123456789abcdef0'],
      ClientToken: clientToken('run-1', SUBNET, '10.0.1.10'),
      TagSpecifications: [
        {
          ResourceType: 'network-interface',
          Tags: [
            { Key: 'netkit:eni-pool', Value: 'app' },
            { Key: 'HostName', Value: 'server-c1' },
          ],
        },
      ],
    });
  });

  it('does not duplicate ENIs when run again, and fills in missing addresses', async () => {
    // Prepare
    await createPool(input({ ips: ['10.0.1.10', '10.0.1.11'] }), deps());
    fake.ec2Mock.resetHistory();

    // Act
    const rows = await createPool(input(), deps());

    // Assess
    expect(rows.map((r) => r.action)).toEqual(['exists', 'exists', 'created']);
    expect(fake.ec2Mock).toHaveReceivedCommandTimes(CreateNetworkInterfaceCommand, 1);
    expect(fake.enis.size).toBe(3);
  });

  it('refuses addresses outside the subnet or reserved by AWS before creating anything', async () => {
    const error = await createPool(
      input({ ips: ['10.0.1.3', '10.0.1.4', '10.0.2.9', '10.0.1.255'] }),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/10\.0\.1\.3 is reserved by AWS/);
    expect((error as Error).message).toMatch(/10\.0\.2\.9 is outside the subnet's 10\.0\.1\.0\/24/);
    expect((error as Error).message).toMatch(/10\.0\.1\.255 is reserved/);
    expect(fake.calls.CreateNetworkInterface).toBeUndefined();
  });

  it('refuses addresses used by interfaces outside the pool before creating anything', async () => {
    fake.addEni({ ip: '10.0.1.12', az: 'ap-northeast-1c', subnetId: SUBNET, tags: { Name: 'db' } });
    await expect(createPool(input(), deps())).rejects.toThrow(/10\.0\.1\.12 \(eni-/);
    expect(fake.calls.CreateNetworkInterface).toBeUndefined();
  });

  it('deletes the ENIs it created when a later create fails', async () => {
    // Prepare: the third create fails
    let n = 0;
    const send = fake.client.send.bind(fake.client) as (command: unknown) => Promise<unknown>;
    fake.client.send = (async (command: unknown) => {
      if (command instanceof CreateNetworkInterfaceCommand && ++n === 3)
        throw awsError('InsufficientFreeAddressesInSubnet');
      return send(command);
    }) as typeof fake.client.send;

    // Act
    const error = await createPool(input(), deps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'InsufficientFreeAddressesInSubnet' });
    expect(fake.calls.DeleteNetworkInterface).toBe(2);
    expect(fake.enis.size).toBe(0);
  });

  it('creates nothing on --dry-run', async () => {
    const rows = await createPool(input({ dryRun: true }), deps());
    expect(rows.map((r) => r.action)).toEqual(['would-create', 'would-create', 'would-create']);
    expect(fake.calls.CreateNetworkInterface).toBeUndefined();
  });

  it('refuses a hostname pattern that repeats a name or is not a host name', async () => {
    await expect(createPool(input({ hostnamePattern: 'server' }), deps())).rejects.toThrow(/same name twice/);
    await expect(createPool(input({ hostnamePattern: 'server_{n}' }), deps())).rejects.toThrow(
      /not a valid host name/,
    );
    expect(fake.ec2Mock.calls()).toHaveLength(0);
  });
});

describe('pool status', () => {
  it('lists the pool by AZ and numeric IP with state, instance and hostname', async () => {
    // Prepare
    fake.addEni({
      ip: '10.0.1.10',
      az: 'ap-northeast-1c',
      subnetId: SUBNET,
      tags: { ...POOL_TAGS, HostName: 'c10' },
    });
    fake.addEni({
      ip: '10.0.1.9',
      az: 'ap-northeast-1c',
      subnetId: SUBNET,
      tags: { ...POOL_TAGS, HostName: 'c9' },
    });
    fake.addEni({ ip: '10.0.0.4', az: 'ap-northeast-1a', subnetId: 's', tags: { ...POOL_TAGS } });
    fake.addEni({ ip: '10.0.0.5', az: 'ap-northeast-1a', subnetId: 's', tags: { Other: 'x' } });
    const instanceId = fake.addInstance('ap-northeast-1c');
    fake.enis.forEach((e) => {
      if (e.ip === '10.0.1.9')
        e.attachment = {
          id: 'a',
          instanceId,
          deviceIndex: 1,
          status: 'attached',
          deleteOnTermination: false,
        };
    });

    // Act
    const rows = await poolStatus(POOL_TAGS, 'HostName', deps());

    // Assess
    expect(rows.map((r) => [r.availabilityZone, r.privateIp, r.status, r.instanceId, r.hostname])).toEqual([
      ['ap-northeast-1a', '10.0.0.4', 'available', undefined, undefined],
      ['ap-northeast-1c', '10.0.1.9', 'in-use', instanceId, 'c9'],
      ['ap-northeast-1c', '10.0.1.10', 'available', undefined, 'c10'],
    ]);
  });
});

describe('pool command line', () => {
  it('parses create with every option', () => {
    expect(
      parsePoolArgs([
        'create',
        '--subnet',
        SUBNET,
        '--ip-range',
        '10.0.1.10-12',
        '--hostname-pattern',
        'server-a{n}',
        '--security-groups',
        'sg-0123456789abcdef0,sg-0123456789abcdef1',
        '--tags',
        '{"netkit:eni-pool":"app"}',
      ]),
    ).toEqual({
      command: 'create',
      subnetId: SUBNET,
      ips: ['10.0.1.10', '10.0.1.11', '10.0.1.12'],
      hostnamePattern: 'server-a{n}',
      securityGroupIds: ['sg-0123456789abcdef0', 'sg-0123456789abcdef1'],
      tags: POOL_TAGS,
      hostnameTag: 'HostName',
      dryRun: false,
      json: false,
    });
  });

  it.each([
    [
      ['create', '--subnet', 'sub-1', '--ip-range', '10.0.1.10-12', '--tags', '{"a":"b"}'],
      /--subnet="sub-1"/,
    ],
    [
      ['create', '--subnet', SUBNET, '--ip-range', '10.0.1.12-10', '--tags', '{"a":"b"}'],
      /--ip-range="10.0.1.12-10": expected/,
    ],
    [['create', '--subnet', SUBNET, '--ip-range', '10.0.0.0-10.0.9.0', '--tags', '{"a":"b"}'], /at most 256/],
    [
      [
        'create',
        '--subnet',
        SUBNET,
        '--ip-range',
        '10.0.1.10',
        '--tags',
        '{"a":"b"}',
        '--security-groups',
        'default',
      ],
      /--security-groups="default"/,
    ],
    [['create', '--subnet', SUBNET, '--ip-range', '10.0.1.10'], /--tags=\(unset\)/],
    [['status', '--tags', '[]'], /--tags="\[\]"/],
    [['delete'], /Unknown command "delete"/],
  ])('rejects %j with exit code 2 and no AWS call', async (argv, message) => {
    const err: string[] = [];
    const code = await runPoolCli(argv, { out() {}, err: (t) => err.push(t) }, deps);
    expect(code).toBe(2);
    expect(err.join('')).toMatch(message);
    expect(fake.ec2Mock.calls()).toHaveLength(0);
  });

  it('prints the status table', async () => {
    fake.addEni({
      ip: '10.0.1.10',
      az: 'ap-northeast-1c',
      subnetId: SUBNET,
      tags: { ...POOL_TAGS, HostName: 'server-c1' },
    });
    const out: string[] = [];
    const code = await runPoolCli(
      ['status', '--tags', JSON.stringify(POOL_TAGS)],
      { out: (t) => out.push(t), err() {} },
      deps,
    );
    expect(code).toBe(0);
    expect(out.join('')).toMatch(
      /^ENI\s+IP\s+AZ\s+STATE\s+INSTANCE\s+HOSTNAME\neni-\S+\s+10\.0\.1\.10\s+ap-northeast-1c\s+available\s+-\s+server-c1\n$/,
    );
  });
});
