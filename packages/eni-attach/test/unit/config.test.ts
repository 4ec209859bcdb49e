import { ConfigError } from '@netkit/aws-core/errors';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadSweeperConfig } from '../../src/config.ts';
import { clientToken } from '../../src/naming.ts';

const SUBNET = 'subnet-0123456789abcdef0';
const SG = 'sg-0123456789abcdef0';
const GROUP = { AUTO_SCALING_GROUP_NAME: 'web-asg' };
const base = { ...GROUP, SUBNET_MAP: `{"us-east-1a":"${SUBNET}"}`, SECURITY_GROUP_IDS: SG };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('launch configuration', () => {
  it('builds one attachment at device index 1 from the single-interface variables', () => {
    expect(loadConfig(base)).toEqual({
      scope: { groupName: 'web-asg' },
      attachments: [{ deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] }],
      eniTags: {},
      heartbeatIntervalMs: 60_000,
      deadlineMarginMs: 1_000,
    });
  });

  it('accepts a JSON array of groups, DEVICE_INDEX, SOURCE_DEST_CHECK and ENI_TAGS', () => {
    const config = loadConfig({
      ...base,
      SECURITY_GROUP_IDS: `["${SG}","sg-0123456789abcdef1"]`,
      DEVICE_INDEX: '2',
      SOURCE_DEST_CHECK: 'false',
      ENI_TAGS: '{"Name":"inspection"}',
    });
    expect(config.attachments[0]).toEqual({
      deviceIndex: 2,
      subnetMap: { 'us-east-1a': SUBNET },
      securityGroupIds: [SG, 'sg-0123456789abcdef1'],
      sourceDestCheck: false,
    });
    expect(config.eniTags).toEqual({ Name: 'inspection' });
  });

  it.each([
    ['SUBNET_MAP', { ...base, SUBNET_MAP: 'us-east-1a=subnet-1' }],
    ['SUBNET_MAP', { ...base, SUBNET_MAP: `{"us-east-1":"${SUBNET}"}` }],
    ['SUBNET_MAP', { ...base, SUBNET_MAP: '{"us-east-1a":"sg-0123456789abcdef0"}' }],
    ['SUBNET_MAP', { ...GROUP, SECURITY_GROUP_IDS: SG }],
    ['SECURITY_GROUP_IDS', { ...base, SECURITY_GROUP_IDS: 'subnet-0123456789abcdef0' }],
    ['SECURITY_GROUP_IDS', { ...GROUP, SUBNET_MAP: base.SUBNET_MAP }],
    ['DEVICE_INDEX', { ...base, DEVICE_INDEX: '0' }],
    ['DEVICE_INDEX', { ...base, DEVICE_INDEX: 'one' }],
    ['SOURCE_DEST_CHECK', { ...base, SOURCE_DEST_CHECK: 'no' }],
    ['ENI_TAGS', { ...base, ENI_TAGS: '{"netkit:managed-by":"me"}' }],
    ['ENI_TAGS', { ...base, ENI_TAGS: '{"aws:cloudformation:stack-name":"x"}' }],
    ['ENI_TAGS', { ...base, ENI_TAGS: '["a"]' }],
    ['HEARTBEAT_INTERVAL_SECONDS', { ...base, HEARTBEAT_INTERVAL_SECONDS: '1' }],
  ])('rejects a bad %s naming the variable', (variable, env) => {
    const error = configError(env as Record<string, string>);
    expect(error.issues.map((i) => i.variable)).toContain(variable);
    expect(error.message).toContain(variable);
  });

  it('bounds SECURITY_GROUP_IDS at 16, the most a network interface takes (Amazon VPC quotas)', () => {
    const groups = (n: number) =>
      Array.from({ length: n }, (_, i) => `sg-${i.toString(16).padStart(17, '0')}`);
    expect(
      loadConfig({ ...base, SECURITY_GROUP_IDS: groups(16).join(',') }).attachments[0]?.securityGroupIds,
    ).toHaveLength(16);
    const error = configError({ ...base, SECURITY_GROUP_IDS: groups(17).join(',') });
    expect(error.issues.map((i) => i.variable)).toEqual(['SECURITY_GROUP_IDS']);
    expect(error.message).toMatch(
      /1 to 16 security group ids \(a network interface takes at most 16\); got 17/,
    );
    expect(error.message.length).toBeLessThan(400);
  });

  it('quotes a bad tag key bounded and with hidden characters escaped', () => {
    for (const key of [`netkit:${'k'.repeat(3_000)}`, 'netkit:\u202Eevil']) {
      const error = configError({ ...base, ENI_TAGS: JSON.stringify({ [key]: 'v' }) });
      expect(error.message.length).toBeLessThan(600);
      expect(error.message).not.toContain('\u202E');
    }
  });

  it('parses ATTACHMENTS sorted by device index', () => {
    const config = loadConfig({
      ...GROUP,
      ATTACHMENTS: JSON.stringify([
        { deviceIndex: 2, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
        {
          deviceIndex: 1,
          subnetMap: { 'us-east-1b': SUBNET },
          securityGroupIds: [SG],
          sourceDestCheck: false,
        },
      ]),
    });
    expect(config.attachments.map((a) => a.deviceIndex)).toEqual([1, 2]);
    expect(config.attachments[0]?.sourceDestCheck).toBe(false);
  });

  it.each([
    [
      'a repeated device index',
      [
        { deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
        { deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
      ],
      'repeated',
    ],
    [
      'an unknown key',
      [{ deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG], subnet: 'x' }],
      'unknown key "subnet"',
    ],
    [
      'a bad subnet map',
      [{ deviceIndex: 1, subnetMap: { 'us-east-1a': 'nope' }, securityGroupIds: [SG] }],
      'ATTACHMENTS[0].subnetMap',
    ],
    [
      'no groups',
      [{ deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [] }],
      'securityGroupIds',
    ],
    [
      'device index 0',
      [{ deviceIndex: 0, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] }],
      'deviceIndex',
    ],
    ['an empty list', [], 'non-empty'],
  ])('rejects ATTACHMENTS with %s', (_what, value, message) => {
    const error = configError({ ...GROUP, ATTACHMENTS: JSON.stringify(value) });
    expect(error.issues[0]?.variable).toBe('ATTACHMENTS');
    expect(error.message).toContain(message);
  });

  it('requires AUTO_SCALING_GROUP_NAME and checks LIFECYCLE_HOOK_NAMES', () => {
    expect(configError({ SUBNET_MAP: base.SUBNET_MAP, SECURITY_GROUP_IDS: SG }).message).toContain(
      'AUTO_SCALING_GROUP_NAME=(unset)',
    );
    expect(configError({ ...base, LIFECYCLE_HOOK_NAMES: 'launch,bad hook' }).issues[0]?.variable).toBe(
      'LIFECYCLE_HOOK_NAMES',
    );
    expect(loadConfig({ ...base, LIFECYCLE_HOOK_NAMES: 'launch, terminate' }).scope).toEqual({
      groupName: 'web-asg',
      hookNames: ['launch', 'terminate'],
    });
  });

  it('refuses ATTACHMENTS together with the single-interface variables', () => {
    const error = configError({
      ...base,
      ATTACHMENTS: JSON.stringify([
        { deviceIndex: 1, subnetMap: { 'us-east-1a': SUBNET }, securityGroupIds: [SG] },
      ]),
    });
    expect(error.issues.map((i) => i.variable).sort()).toEqual(['SECURITY_GROUP_IDS', 'SUBNET_MAP']);
  });
});

describe('sweeper configuration', () => {
  const TEMPLATE = {
    LAUNCH_RULE_MAX_EVENT_AGE_SECONDS: '600',
    LAUNCH_MAX_EVENT_AGE_SECONDS: '600',
    LAUNCH_FUNCTION_TIMEOUT_SECONDS: '120',
  };

  it('defaults to a 30 minute grace period, deleting, at most 100 per run, with the template’s limits', () => {
    expect(loadSweeperConfig(TEMPLATE)).toEqual({
      graceMs: 1_800_000,
      dryRun: false,
      maxDeletes: 100,
      deadlineMarginMs: 2_000,
    });
    // The template passes an empty SweepGraceMinutes for "derive it".
    expect(loadSweeperConfig({ ...TEMPLATE, SWEEP_GRACE_MINUTES: '' }).graceMs).toBe(1_800_000);
  });

  it('derives a longer default when the launch limits are unset (AWS defaults: 24 h + 6 h + 15 min)', () => {
    // 86400 + 21600 + 900 s = 1815 min; the minimum is 1816, the default 5 more.
    expect(loadSweeperConfig({}).graceMs).toBe(1_821 * 60_000);
  });

  it('derives the default from long launch limits, keeping 30 minutes as the floor', () => {
    const env = {
      LAUNCH_RULE_MAX_EVENT_AGE_SECONDS: '3600',
      LAUNCH_MAX_EVENT_AGE_SECONDS: '3600',
      LAUNCH_FUNCTION_TIMEOUT_SECONDS: '900',
    };
    // 8100 s = 135 min -> at least 136, default 141.
    expect(loadSweeperConfig(env).graceMs).toBe(141 * 60_000);
  });

  it('rejects a grace period that a late retry could outlive, naming the limits', () => {
    const act = () => loadSweeperConfig({ ...TEMPLATE, SWEEP_GRACE_MINUTES: '22' });
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(/SWEEP_GRACE_MINUTES="22": expected at least 23 minutes/);
    expect(act).toThrow(/LAUNCH_FUNCTION_TIMEOUT_SECONDS 120/);
    expect(loadSweeperConfig({ ...TEMPLATE, SWEEP_GRACE_MINUTES: '23' }).graceMs).toBe(23 * 60_000);
  });

  it('rejects a grace period of 30 minutes when the limits are AWS’s defaults', () => {
    expect(() => loadSweeperConfig({ SWEEP_GRACE_MINUTES: '30' })).toThrow(/at least 1816 minutes/);
  });

  it('rejects launch limits outside what Lambda and EventBridge allow', () => {
    expect(() => loadSweeperConfig({ LAUNCH_FUNCTION_TIMEOUT_SECONDS: '901' })).toThrow(
      /LAUNCH_FUNCTION_TIMEOUT_SECONDS/,
    );
    expect(() => loadSweeperConfig({ LAUNCH_MAX_EVENT_AGE_SECONDS: '30' })).toThrow(
      /LAUNCH_MAX_EVENT_AGE_SECONDS/,
    );
  });

  it('rejects a grace period under 5 minutes', () => {
    expect(() => loadSweeperConfig({ SWEEP_GRACE_MINUTES: '1' })).toThrow(/SWEEP_GRACE_MINUTES/);
  });
});

describe('client token', () => {
  it('is deterministic, at most 64 ASCII characters and differs per device index and hook', () => {
    const a = clientToken('i-0123456789abcdef0', 'a-very-long-hook-name-'.repeat(10), 1);
    expect(a).toBe(clientToken('i-0123456789abcdef0', 'a-very-long-hook-name-'.repeat(10), 1));
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).toMatch(/^[\x20-\x7e]+$/);
    expect(clientToken('i-0123456789abcdef0', 'hook', 1)).not.toBe(
      clientToken('i-0123456789abcdef0', 'hook', 2),
    );
    expect(clientToken('i-0123456789abcdef0', 'hook', 1)).not.toBe(
      clientToken('i-0123456789abcdef0', 'hook2', 1),
    );
  });
});
