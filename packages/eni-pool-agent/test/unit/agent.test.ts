import { ValidationError } from '@netkit/aws-core/errors';
import { silentLogger } from '@netkit/aws-core/observability';
import { manualClock } from '@netkit/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPoolConfig } from '../../src/config.ts';
import { Imds } from '../../src/imds.ts';
import { parseAgentArgs } from '../../src/parse-agent-args.ts';
import { type AgentOptions, EXIT, runAgent } from '../../src/run-agent.ts';
import { FakeEc2, POOL_TAGS, seedPool } from '../support/fake-ec2.ts';
import { type ImdsFixture, startImdsFixture } from '../support/imds-server.ts';

const AZ = 'ap-northeast-1a';
let fake: FakeEc2;
let fixture: ImdsFixture;
let instanceId: string;
let commands: string[][];
let regions: string[];

const options = (overrides: Partial<AgentOptions> = {}): AgentOptions => ({
  mode: 'attach',
  dryRun: false,
  setHostname: true,
  onFailure: 'exit',
  config: loadPoolConfig({ ENI_POOL_TAGS: JSON.stringify(POOL_TAGS), ATTACH_TIMEOUT_SECONDS: '20' }),
  ...overrides,
});
const deps = () => ({
  imds: new Imds({ endpoint: fixture.endpoint }),
  ec2: (region: string) => {
    regions.push(region);
    return fake.client;
  },
  run: async (command: string, args: string[]) => {
    commands.push([command, ...args]);
  },
  clock: manualClock(),
  logger: silentLogger,
  random: () => 0,
});

beforeEach(async () => {
  fake = new FakeEc2();
  instanceId = fake.addInstance(AZ);
  fixture = await startImdsFixture({ instanceId, availabilityZone: AZ });
  commands = [];
  regions = [];
});
afterEach(async () => {
  await fixture.close();
});

describe('agent', () => {
  it('attaches the lowest pool ENI of its AZ and sets the hostname from its tag', async () => {
    // Prepare
    seedPool(fake, AZ, '10.0.0', 'server-a', 3);
    seedPool(fake, 'ap-northeast-1c', '10.0.1', 'server-c', 3, 1);

    // Act
    const report = await runAgent(options(), deps());

    // Assess
    expect(report).toMatchObject({
      status: 'attached',
      exitCode: EXIT.OK,
      instanceId,
      region: 'ap-northeast-1',
      availabilityZone: AZ,
      privateIp: '10.0.0.4',
      hostname: 'server-a1',
      hostnameSet: true,
    });
    expect(regions).toEqual(['ap-northeast-1']);
    expect(commands).toEqual([['hostnamectl', 'set-hostname', 'server-a1']]);
    expect(fixture.requests.every((r) => r.method === 'PUT' || r.authorized)).toBe(true);
  });

  it('changes nothing and reports the ENI when run again on the same instance', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 3);
    const first = await runAgent(options(), deps());
    const again = await runAgent(options(), deps());
    expect(again).toMatchObject({
      status: 'already-held',
      exitCode: 0,
      networkInterfaceId: first.networkInterfaceId,
    });
    expect(fake.calls.AttachNetworkInterface).toBe(1);
  });

  it('reports what it would attach on --dry-run without changing anything', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 2);
    const report = await runAgent(options({ dryRun: true }), deps());
    expect(report).toMatchObject({
      status: 'would-attach',
      exitCode: 0,
      privateIp: '10.0.0.4',
      dryRun: true,
      hostnameSet: false,
    });
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
    expect(commands).toEqual([]);
  });

  it('leaves the hostname alone with --no-hostname', async () => {
    seedPool(fake, AZ, '10.0.0', 'server-a', 1);
    const report = await runAgent(options({ setHostname: false }), deps());
    expect(report).toMatchObject({ status: 'attached', hostname: 'server-a1', hostnameSet: false });
    expect(commands).toEqual([]);
  });

  it('exits 4 when the pool of its AZ is empty, and shuts down only when asked to', async () => {
    // Prepare: the pool only has ENIs in the other AZ
    seedPool(fake, 'ap-northeast-1c', '10.0.1', 'server-c', 2);

    // Act
    const plain = await runAgent(options(), deps());
    const shutdown = await runAgent(options({ onFailure: 'shutdown' }), deps());

    // Assess
    expect(plain).toMatchObject({ status: 'failed', exitCode: EXIT.POOL_EXHAUSTED });
    expect(plain.error).toMatch(/No available pool ENI in ap-northeast-1a/);
    expect(shutdown).toMatchObject({ exitCode: EXIT.POOL_EXHAUSTED, shutdown: true });
    expect(commands).toEqual([['shutdown', '-h', 'now']]);
    expect(fake.calls.AttachNetworkInterface).toBeUndefined();
  });

  it('exits 3 with a clear message when IMDS cannot be reached, before any AWS call', async () => {
    const report = await runAgent(options(), {
      ...deps(),
      imds: new Imds({ endpoint: 'http://127.0.0.1:9', timeoutMs: 200, attempts: 1 }),
    });
    expect(report).toMatchObject({ status: 'failed', exitCode: EXIT.IMDS_UNREACHABLE });
    expect(report.error).toMatch(/Cannot reach the instance metadata service/);
    expect(regions).toEqual([]);
  });

  it('refuses a hostname tag that is not a valid host name, keeping the ENI', async () => {
    fake.addEni({
      ip: '10.0.0.4',
      az: AZ,
      subnetId: 's',
      tags: { ...POOL_TAGS, HostName: 'bad name; rm -rf /' },
    });
    const report = await runAgent(options(), deps());
    expect(report).toMatchObject({ status: 'failed', exitCode: EXIT.HOSTNAME_FAILED });
    expect(commands).toEqual([]);
    expect(fake.attachedTo(instanceId)).toHaveLength(2);
  });

  it('in Lambda mode waits for the instance hostname tag, then sets it without any AWS call', async () => {
    // Prepare: the Lambda writes the tag a little later
    const d = deps();
    let polls = 0;
    const instanceTag = d.imds.instanceTag.bind(d.imds);
    d.imds.instanceTag = async (key: string) => {
      if (++polls === 3) fixture.tags.HostName = 'server-c2';
      return instanceTag(key);
    };
    const config = loadPoolConfig({ ENI_POOL_TAGS: '{"x":"y"}' });

    // Act
    const report = await runAgent(options({ mode: 'hostname-from-tag', config }), d);

    // Assess
    expect(report).toMatchObject({
      status: 'hostname-set',
      exitCode: 0,
      hostname: 'server-c2',
      hostnameSet: true,
    });
    expect(commands).toEqual([['hostnamectl', 'set-hostname', 'server-c2']]);
    expect(regions).toEqual([]);
  });

  it('in Lambda mode exits 6 when the hostname tag never appears', async () => {
    const config = loadPoolConfig({ ENI_POOL_TAGS: '{"x":"y"}', ATTACH_TIMEOUT_SECONDS: '5' });
    const report = await runAgent(options({ mode: 'hostname-from-tag', config }), deps());
    expect(report).toMatchObject({ status: 'failed', exitCode: EXIT.HOSTNAME_FAILED });
    expect(report.error).toMatch(/InstanceMetadataTags/);
  });
});

describe('agent in Lambda mode (--hostname-from-tag) with warm pools', () => {
  it('waits up to the hook timeout, well past ATTACH_TIMEOUT_SECONDS, for a tag written when the instance leaves the warm pool', async () => {
    // Prepare: the tag appears 300 s after boot (the Lambda ran when the instance entered the group)
    const d = deps();
    const start = d.clock.now();
    const instanceTag = d.imds.instanceTag.bind(d.imds);
    d.imds.instanceTag = async (key: string) => {
      if (d.clock.now() - start >= 300_000) fixture.tags.HostName = 'server-w1';
      return instanceTag(key);
    };
    const config = loadPoolConfig({ ENI_POOL_TAGS: '{"x":"y"}', ATTACH_TIMEOUT_SECONDS: '120' });

    // Act
    const report = await runAgent(options({ mode: 'hostname-from-tag', config, hookTimeoutMs: 900_000 }), d);

    // Assess
    expect(report).toMatchObject({ status: 'hostname-set', exitCode: 0, hostname: 'server-w1' });
    expect(commands).toEqual([['hostnamectl', 'set-hostname', 'server-w1']]);
  });

  it('never shuts the instance down, even when asked to on failure (a warm-pool boot never gets the tag)', async () => {
    // Prepare
    const config = loadPoolConfig({ ENI_POOL_TAGS: '{"x":"y"}' });

    // Act
    const report = await runAgent(
      options({ mode: 'hostname-from-tag', config, hookTimeoutMs: 30_000, onFailure: 'shutdown' }),
      deps(),
    );

    // Assess
    expect(report).toMatchObject({ status: 'failed', exitCode: EXIT.HOSTNAME_FAILED });
    expect(report.shutdown).toBeUndefined();
    expect(commands).toEqual([]);
  });
});

describe('agent command line', () => {
  it('reads flags over environment variables', () => {
    const parsed = parseAgentArgs(
      [
        '--pool-tags',
        '{"Pool":"b"}',
        '--device-index',
        '2',
        '--dry-run',
        '--no-hostname',
        '--on-failure',
        'shutdown',
      ],
      { ENI_POOL_TAGS: '{"Pool":"a"}', ATTACH_TIMEOUT_SECONDS: '30' },
    );
    expect(parsed).toEqual({
      help: false,
      options: {
        mode: 'attach',
        dryRun: true,
        setHostname: false,
        onFailure: 'shutdown',
        config: {
          tags: { Pool: 'b' },
          hostnameTag: 'HostName',
          deviceIndex: 2,
          attachTimeoutMs: 30_000,
        },
      },
    });
  });

  it('needs no pool tags to set the hostname from the instance tag, and waits the hook timeout (default 900 s)', () => {
    const parsed = parseAgentArgs(['--hostname-from-tag'], {});
    expect(parsed).toMatchObject({ options: { mode: 'hostname-from-tag', hookTimeoutMs: 900_000 } });
    expect(parseAgentArgs(['--hostname-from-tag', '--hook-timeout', '1200'], {})).toMatchObject({
      options: { hookTimeoutMs: 1_200_000 },
    });
    expect(parseAgentArgs(['--hostname-from-tag'], { HOOK_TIMEOUT_SECONDS: '600' })).toMatchObject({
      options: { hookTimeoutMs: 600_000 },
    });
  });

  it.each([
    [['--hostname-from-tag', '--on-failure', 'shutdown'], /cannot be used with --hostname-from-tag/],
    [['--hostname-from-tag', '--hook-timeout', '9000'], /--hook-timeout \/ HOOK_TIMEOUT_SECONDS="9000"/],
    [['--pool-tags', '{"Pool":"a"}', '--hook-timeout', '600'], /only applies with --hostname-from-tag/],
  ])('rejects %j in Lambda mode with a usage error', (argv, message) => {
    expect(() => parseAgentArgs(argv, {})).toThrow(ValidationError);
    expect(() => parseAgentArgs(argv, {})).toThrow(message);
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--on-failure', 'reboot'], /--on-failure "reboot": expected exit or shutdown/],
    [[], /--pool-tags \/ ENI_POOL_TAGS=\(unset\)/],
    [['--pool-tags', '{"Pool":"a"}', '--timeout', '0'], /--timeout \/ ATTACH_TIMEOUT_SECONDS="0"/],
  ])('rejects %j with a usage error naming the problem', (argv, message) => {
    expect(() => parseAgentArgs(argv, {})).toThrow(ValidationError);
    expect(() => parseAgentArgs(argv, {})).toThrow(message);
  });
});
