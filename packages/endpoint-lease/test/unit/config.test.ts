import { ConfigError } from '@netkit/aws-core/errors';
import { describe, expect, it } from 'vitest';
import { loadAcquireConfig } from '../../src/config.ts';
import { validEnv } from '../support/env.ts';

function issues(env: Record<string, string>) {
  try {
    loadAcquireConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => i.variable);
  }
  throw new Error('expected a ConfigError');
}

describe('loadAcquireConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadAcquireConfig(validEnv);
    expect(c).toMatchObject({
      endpointServices: ['logs', 'ecr.api', 'ecr.dkr'],
      leaseMs: 300_000,
      deletePolicy: 'hour-aligned',
      billingGuardMs: 600_000,
      billingAnchor: 'clock-hour',
      consistencySettleMs: 10_000,
      deadlineMarginMs: 10_000,
      cfnRoleArn: undefined,
    });
    expect(c.subnetIds).toHaveLength(2);
  });

  it('accepts comma lists and every option', () => {
    const c = loadAcquireConfig({
      ...validEnv,
      SUBNET_IDS: 'subnet-0123456789abcdef0, subnet-0123456789abcdef1',
      ENDPOINT_SERVICES: 'logs,ecr.api,ecr.dkr,secretsmanager,ssm',
      CFN_ROLE_ARN: 'arn:aws:iam::123456789012:role/endpoint-stack',
      LEASE_SECONDS: '900',
      DELETE_POLICY: 'immediate',
      BILLING_GUARD_SECONDS: '300',
      BILLING_ANCHOR: 'clock-hour',
    });
    expect(c).toMatchObject({
      deletePolicy: 'immediate',
      leaseMs: 900_000,
      billingGuardMs: 300_000,
      billingAnchor: 'clock-hour',
    });
    expect(c.endpointServices).toContain('ssm');
  });

  it('reads the former BILLING_ANCHOR name stack-creation as endpoint-creation', () => {
    expect(loadAcquireConfig({ ...validEnv, BILLING_ANCHOR: 'stack-creation' }).billingAnchor).toBe(
      'endpoint-creation',
    );
    expect(loadAcquireConfig({ ...validEnv, BILLING_ANCHOR: 'endpoint-creation' }).billingAnchor).toBe(
      'endpoint-creation',
    );
  });

  it.each([
    ['ENDPOINT_STACK_NAME', '1-starts-with-digit'],
    ['VPC_ID', 'vpc-xyz'],
    ['SUBNET_IDS', '[]'],
    ['ENDPOINT_SUBNET_IDS', 'subnet-0123456789abcdef0,rtb-0123456789abcdef0'],
    ['ACQUIRE_EVENT_SOURCES', 'aws.events,has space'],
    ['DELETE_ATTEMPTS', '0'],
    ['DELETE_ATTEMPTS', '11'],
    ['TASK_SECURITY_GROUP_IDS', 'sg-0123456789abcdef0,subnet-0123456789abcdef0'],
    ['ENDPOINT_SERVICES', 'Logs!'],
    // The template prefixes com.amazonaws.<region>.: a full name would be prefixed twice.
    ['ENDPOINT_SERVICES', 'com.amazonaws.us-east-1.logs,ecr.api'],
    // ECS API reference, AwsVpcConfiguration: up to 16 subnets and up to 5 security groups.
    [
      'SUBNET_IDS',
      Array.from({ length: 17 }, (_, i) => `subnet-${i.toString(16).padStart(17, '0')}`).join(','),
    ],
    [
      'TASK_SECURITY_GROUP_IDS',
      Array.from({ length: 6 }, (_, i) => `sg-${i.toString(16).padStart(17, '0')}`).join(','),
    ],
    ['CLUSTER_ARN', 'jobs'],
    ['TASK_DEFINITION_ARN', 'arn:aws:ecs:us-east-1:123456789012:cluster/jobs'],
    ['CFN_ROLE_ARN', 'arn:aws:iam::123456789012:user/bob'],
    ['LEASE_SECONDS', '30'],
    ['DELETE_POLICY', 'never'],
    ['BILLING_GUARD_SECONDS', '3600'],
    ['BILLING_ANCHOR', 'midnight'],
  ])('names %s when it is %s', (variable, value) => {
    expect(issues({ ...validEnv, [variable]: value })).toEqual([variable]);
  });

  it('accepts the awsvpc maxima: 16 subnets and 5 security groups', () => {
    const config = loadAcquireConfig({
      ...validEnv,
      SUBNET_IDS: Array.from({ length: 16 }, (_, i) => `subnet-${i.toString(16).padStart(17, '0')}`).join(
        ',',
      ),
      TASK_SECURITY_GROUP_IDS: Array.from(
        { length: 5 },
        (_, i) => `sg-${i.toString(16).padStart(17, '0')}`,
      ).join(','),
    });
    expect(config.subnetIds).toHaveLength(16);
    expect(config.taskSecurityGroupIds).toHaveLength(5);
  });

  it('names every missing required variable at once', () => {
    expect(issues({})).toEqual([
      'ENDPOINT_STACK_NAME',
      'VPC_ID',
      'SUBNET_IDS',
      'TASK_SECURITY_GROUP_IDS',
      'CLUSTER_ARN',
      'TASK_DEFINITION_ARN',
    ]);
  });

  it('defaults the endpoint subnets to SUBNET_IDS, the sources to scheduled events, and 3 delete attempts', () => {
    const c = loadAcquireConfig(validEnv);
    expect(c.endpointSubnetIds).toEqual(c.subnetIds);
    expect(c.acceptedSources).toEqual(['aws.events', 'aws.scheduler']);
    expect(c.deleteAttempts).toBe(3);
    const own = loadAcquireConfig({
      ...validEnv,
      ENDPOINT_SUBNET_IDS: 'subnet-0123456789abcdef9',
      ACQUIRE_EVENT_SOURCES: 'com.example.jobs',
      DELETE_ATTEMPTS: '5',
    });
    expect(own).toMatchObject({
      endpointSubnetIds: ['subnet-0123456789abcdef9'],
      acceptedSources: ['com.example.jobs'],
      deleteAttempts: 5,
    });
  });

  it('uses an endpoint subnet listed twice once', () => {
    const twice = 'subnet-0123456789abcdef0,subnet-0123456789abcdef0';
    expect(loadAcquireConfig({ ...validEnv, ENDPOINT_SUBNET_IDS: twice }).endpointSubnetIds).toEqual([
      'subnet-0123456789abcdef0',
    ]);
  });

  it('ignores the former ROUTE_TABLE_IDS (the S3 gateway endpoint is in the permanent template)', () => {
    expect(() => loadAcquireConfig({ ...validEnv, ROUTE_TABLE_IDS: 'rtb-' })).not.toThrow();
  });

  it('refuses a task definition from another region than the cluster', () => {
    expect(
      issues({
        ...validEnv,
        TASK_DEFINITION_ARN: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/job:3',
      }),
    ).toEqual(['TASK_DEFINITION_ARN']);
  });
});
