import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../src/index.ts';
import { useEmulator } from '../src/vitest.ts';

// The evaluator alone (POST /_netkit/iam/evaluate), against the documented evaluation logic.
const emu = useEmulator();

const allow = (Action: unknown, Resource: unknown, Condition?: unknown): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) }],
});
const ENI = 'arn:aws:ec2:us-east-1:123456789012:network-interface/eni-1';

describe('policy evaluation logic', () => {
  // IAM User Guide, "Policy evaluation logic" / "Determining whether a request is allowed or denied
  // within an account": an explicit deny in any policy overrides any allow.
  it('an explicit Deny wins over an Allow of the same action and resource', async () => {
    const policies: PolicyDocument[] = [
      allow('ec2:*', '*'),
      {
        Statement: [{ Sid: 'NoDelete', Effect: 'Deny', Action: 'ec2:DeleteNetworkInterface', Resource: '*' }],
      },
    ];
    expect(await emu().iam.evaluate(policies, 'ec2:DeleteNetworkInterface', ENI)).toEqual({
      decision: 'Deny',
      sid: 'NoDelete',
    });
    expect((await emu().iam.evaluate(policies, 'ec2:AttachNetworkInterface', ENI)).decision).toBe('Allow');
  });

  // Same page: "By default, all requests are implicitly denied" unless an applicable Allow exists.
  it('denies implicitly when no statement allows the action', async () => {
    expect(await emu().iam.evaluate([allow('ec2:Describe*', '*')], 'ec2:CreateTags', ENI)).toEqual({
      decision: 'ImplicitDeny',
    });
    expect((await emu().iam.evaluate([], 'ec2:DescribeInstances', '*')).decision).toBe('ImplicitDeny');
  });

  // "IAM JSON policy elements: NotAction" / "NotResource": everything except the listed ones.
  it('NotAction and NotResource match everything except what they list', async () => {
    const policy: PolicyDocument = {
      Statement: [{ Effect: 'Allow', NotAction: 'ec2:Delete*', NotResource: 'arn:aws:ec2:*:*:instance/*' }],
    };
    expect((await emu().iam.evaluate([policy], 'ec2:CreateTags', ENI)).decision).toBe('Allow');
    expect((await emu().iam.evaluate([policy], 'ec2:DeleteNetworkInterface', ENI)).decision).toBe(
      'ImplicitDeny',
    );
    const instance = 'arn:aws:ec2:us-east-1:123456789012:instance/i-1';
    expect((await emu().iam.evaluate([policy], 'ec2:CreateTags', instance)).decision).toBe('ImplicitDeny');
  });
});

describe('Action and Resource wildcards', () => {
  // "IAM JSON policy elements: Action": action names are not case sensitive; `*` and `?` wildcards.
  it('matches action names case-insensitively with * and ? globs', async () => {
    const policies = [allow(['EC2:describe*', 'ec2:?ttachNetworkInterface'], '*')];
    expect((await emu().iam.evaluate(policies, 'ec2:DescribeInstances', '*')).decision).toBe('Allow');
    expect((await emu().iam.evaluate(policies, 'ec2:AttachNetworkInterface', ENI)).decision).toBe('Allow');
    expect((await emu().iam.evaluate(policies, 'ec2:DetachNetworkInterface', ENI)).decision).toBe(
      'ImplicitDeny',
    );
  });

  // "IAM JSON policy elements: Resource": wildcards within ARN segments; a wildcard does not span
  // segments (partition, service, region, account), the resource part is matched whole.
  it('matches ARNs segment by segment with wildcards', async () => {
    const policies = [allow('ec2:CreateNetworkInterface', ['arn:*:ec2:*:*:subnet/subnet-1?'])];
    const subnet = 'arn:aws:ec2:us-east-1:123456789012:subnet/subnet-12';
    expect((await emu().iam.evaluate(policies, 'ec2:CreateNetworkInterface', subnet)).decision).toBe('Allow');
    expect((await emu().iam.evaluate(policies, 'ec2:CreateNetworkInterface', `${subnet}3`)).decision).toBe(
      'ImplicitDeny',
    );
    // `*` in the region segment must not swallow the account segment's colon.
    const scoped = [allow('ec2:AttachNetworkInterface', 'arn:aws:ec2:*:network-interface/*')];
    expect((await emu().iam.evaluate(scoped, 'ec2:AttachNetworkInterface', ENI)).decision).toBe(
      'ImplicitDeny',
    );
    // The resource part may contain colons (Auto Scaling group ARNs) and `*` matches across them.
    const asg = [
      allow(
        'autoscaling:CompleteLifecycleAction',
        'arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web',
      ),
    ];
    const arn = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1b2c:autoScalingGroupName/web';
    expect((await emu().iam.evaluate(asg, 'autoscaling:CompleteLifecycleAction', arn)).decision).toBe(
      'Allow',
    );
    expect((await emu().iam.evaluate(asg, 'autoscaling:CompleteLifecycleAction', `${arn}-2`)).decision).toBe(
      'ImplicitDeny',
    );
  });
});

describe('conditions', () => {
  const tagged = (operator: string, value: unknown = 'eni-attach') => [
    allow('ec2:DeleteNetworkInterface', '*', { [operator]: { 'aws:ResourceTag/netkit:managed-by': value } }),
  ];

  // "IAM JSON policy elements: Condition operators", String condition operators.
  it('StringEquals matches the exact value; several values are alternatives (OR)', async () => {
    const ctx = { 'aws:ResourceTag/netkit:managed-by': 'eni-attach' };
    expect(
      (await emu().iam.evaluate(tagged('StringEquals'), 'ec2:DeleteNetworkInterface', ENI, ctx)).decision,
    ).toBe('Allow');
    const other = { 'aws:ResourceTag/netkit:managed-by': 'someone-else' };
    expect(
      (await emu().iam.evaluate(tagged('StringEquals'), 'ec2:DeleteNetworkInterface', ENI, other)).decision,
    ).toBe('ImplicitDeny');
    const either = tagged('StringEquals', ['x', 'someone-else']);
    expect((await emu().iam.evaluate(either, 'ec2:DeleteNetworkInterface', ENI, other)).decision).toBe(
      'Allow',
    );
  });

  // "IAM JSON policy elements: Condition": condition key names are not case sensitive; several
  // keys and operators in one Condition must all hold (AND).
  it('every key of a Condition must hold; key names are case-insensitive', async () => {
    const policies = [
      allow('ec2:CreateTags', '*', {
        StringEquals: { 'EC2:CreateAction': 'CreateNetworkInterface', 'aws:RequestTag/owner': 'me' },
      }),
    ];
    const both = { 'ec2:createaction': 'CreateNetworkInterface', 'aws:RequestTag/owner': 'me' };
    expect((await emu().iam.evaluate(policies, 'ec2:CreateTags', ENI, both)).decision).toBe('Allow');
    const one = { 'ec2:CreateAction': 'CreateNetworkInterface' };
    expect((await emu().iam.evaluate(policies, 'ec2:CreateTags', ENI, one)).decision).toBe('ImplicitDeny');
  });

  // "Condition operators" (Important note) and "Condition keys with absent values": an absent key
  // does not match, so the condition is false; for a negated operator (StringNotEquals,
  // StringNotLike, ArnNotLike) it is true; ...IfExists is true when the key is absent.
  it('an absent key fails StringEquals, passes StringNotEquals and ...IfExists', async () => {
    const action = 'ec2:DeleteNetworkInterface';
    expect((await emu().iam.evaluate(tagged('StringEquals'), action, ENI, {})).decision).toBe('ImplicitDeny');
    expect((await emu().iam.evaluate(tagged('StringNotEquals'), action, ENI, {})).decision).toBe('Allow');
    expect((await emu().iam.evaluate(tagged('StringEqualsIfExists'), action, ENI, {})).decision).toBe(
      'Allow',
    );
    expect((await emu().iam.evaluate(tagged('StringNotLike', 'eni-*'), action, ENI, {})).decision).toBe(
      'Allow',
    );
    // ...IfExists still checks a key that is present.
    const other = { 'aws:ResourceTag/netkit:managed-by': 'x' };
    expect((await emu().iam.evaluate(tagged('StringEqualsIfExists'), action, ENI, other)).decision).toBe(
      'ImplicitDeny',
    );
  });

  // "Condition operators", Null condition operator: true means the key must be absent.
  it('Null checks whether the key is present', async () => {
    const action = 'ec2:DeleteNetworkInterface';
    const present = { 'aws:ResourceTag/netkit:managed-by': 'eni-attach' };
    expect((await emu().iam.evaluate(tagged('Null', 'true'), action, ENI, {})).decision).toBe('Allow');
    expect((await emu().iam.evaluate(tagged('Null', 'true'), action, ENI, present)).decision).toBe(
      'ImplicitDeny',
    );
    expect((await emu().iam.evaluate(tagged('Null', 'false'), action, ENI, present)).decision).toBe('Allow');
  });

  // "Set operators for multivalued context keys": ForAllValues is true when every request value
  // matches (and, as that page warns, when the key is absent or empty); ForAnyValue needs one
  // matching value and is false for an absent key.
  it('ForAllValues and ForAnyValue over aws:TagKeys', async () => {
    const only = [
      allow('ec2:CreateTags', '*', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }),
    ];
    expect((await emu().iam.evaluate(only, 'ec2:CreateTags', ENI, { 'aws:TagKeys': ['a'] })).decision).toBe(
      'Allow',
    );
    expect(
      (await emu().iam.evaluate(only, 'ec2:CreateTags', ENI, { 'aws:TagKeys': ['a', 'c'] })).decision,
    ).toBe('ImplicitDeny');
    expect((await emu().iam.evaluate(only, 'ec2:CreateTags', ENI, {})).decision).toBe('Allow');
    const any = [allow('ec2:CreateTags', '*', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a'] } })];
    expect(
      (await emu().iam.evaluate(any, 'ec2:CreateTags', ENI, { 'aws:TagKeys': ['c', 'a'] })).decision,
    ).toBe('Allow');
    expect((await emu().iam.evaluate(any, 'ec2:CreateTags', ENI, {})).decision).toBe('ImplicitDeny');
  });

  // "Condition operators", Amazon Resource Name (ARN) condition operators.
  it('ArnEquals compares an ARN key such as ecs:cluster', async () => {
    const cluster = 'arn:aws:ecs:us-east-1:123456789012:cluster/lease';
    const policies = [allow('ecs:ListTasks', '*', { ArnEquals: { 'ecs:cluster': cluster } })];
    expect(
      (await emu().iam.evaluate(policies, 'ecs:ListTasks', '*', { 'ecs:cluster': cluster })).decision,
    ).toBe('Allow');
    const other = { 'ecs:cluster': `${cluster}-2` };
    expect((await emu().iam.evaluate(policies, 'ecs:ListTasks', '*', other)).decision).toBe('ImplicitDeny');
    expect((await emu().iam.evaluate(policies, 'ecs:ListTasks', '*', {})).decision).toBe('ImplicitDeny');
  });

  it('refuses to register a policy with an operator it does not model', async () => {
    await expect(
      emu().iam.register({
        policies: [allow('ec2:*', '*', { DateLessThan: { 'aws:CurrentTime': '2030-01-01' } })],
      }),
    ).rejects.toThrow(/DateLessThan is not modelled/);
  });
});
