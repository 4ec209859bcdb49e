import { integer, oneOf, optional, parseConfig, patterns, string, stringList } from '@netkit/aws-core/config';
import { ConfigError } from '@netkit/aws-core/errors';

const configSpec = {
  ENDPOINT_STACK_NAME: string({
    pattern: /^[A-Za-z][A-Za-z0-9-]{0,99}$/,
    description: 'a CloudFormation stack name: a letter, then up to 99 letters, digits or hyphens',
  }),
  VPC_ID: string({ pattern: patterns.vpcId, description: 'a VPC id like vpc-0123456789abcdef0' }),
  // RunTask's awsvpcConfiguration takes up to 16 subnets and 5 security groups (ADR 0089).
  SUBNET_IDS: stringList({
    pattern: patterns.subnetId,
    item: 'subnet id (subnet-...)',
    maxItems: 16,
    limit: 'RunTask awsvpcConfiguration takes at most 16 subnets',
  }),
  ENDPOINT_SUBNET_IDS: optional(stringList({ pattern: patterns.subnetId, item: 'subnet id (subnet-...)' })),
  TASK_SECURITY_GROUP_IDS: stringList({
    pattern: patterns.securityGroupId,
    item: 'security group id (sg-...)',
    maxItems: 5,
    limit: 'RunTask awsvpcConfiguration takes at most 5 security groups',
  }),
  ENDPOINT_SERVICES: optional(
    stringList({
      pattern: /^(?!com\.amazonaws\.)[a-z0-9][a-z0-9.-]{0,62}$/,
      item: 'short service name like ecr.dkr',
      limit: 'without com.amazonaws.<region>., which the template adds',
    }),
    // What a Fargate task needs without NAT: image pulls (ecr.*; layers via the S3 gateway) and awslogs.
    ['logs', 'ecr.api', 'ecr.dkr'],
  ),
  CLUSTER_ARN: string({
    pattern: /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}$/,
    description: 'an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)',
  }),
  TASK_DEFINITION_ARN: string({
    pattern: /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}(:\d+)?$/,
    description:
      'an ECS task definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>[:<revision>])',
  }),
  CFN_ROLE_ARN: optional(
    string({
      pattern: /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
      description: 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
    }),
  ),
  LEASE_SECONDS: optional(integer({ min: 60, max: 86_400 }), 300),
  DELETE_POLICY: optional(oneOf(['hour-aligned', 'immediate'] as const), 'hour-aligned'),
  BILLING_GUARD_SECONDS: optional(integer({ min: 60, max: 1_800 }), 600),
  // `stack-creation` is the former name of `endpoint-creation`; the default is ADR 0016's.
  BILLING_ANCHOR: optional(
    oneOf(['clock-hour', 'endpoint-creation', 'stack-creation'] as const),
    'clock-hour',
  ),
  ACQUIRE_EVENT_SOURCES: optional(
    stringList({ pattern: /^[A-Za-z0-9._/:-]{1,256}$/, item: 'event source like aws.events' }),
    ['aws.events', 'aws.scheduler'],
  ),
  DELETE_ATTEMPTS: optional(integer({ min: 1, max: 10 }), 3),
  CONSISTENCY_SETTLE_SECONDS: optional(integer({ min: 0, max: 60 }), 10),
};

/** The validated configuration (README "Configuration"); durations in milliseconds. */
export type Config = ReturnType<typeof loadLeaseConfig>;

type Env = Record<string, string | undefined>;

/** Both entries read one environment; only the margin before the Lambda deadline differs. */
export const loadAcquireConfig = (env: Env = process.env): Config => loadLeaseConfig(env, 10_000);
export const loadReaperConfig = (env: Env = process.env): Config => loadLeaseConfig(env, 5_000);

const region = (arn: string) => arn.split(':')[3] ?? '';

function loadLeaseConfig(env: Env, deadlineMarginMs: number) {
  const c = parseConfig(configSpec, env);
  if (region(c.CLUSTER_ARN) !== region(c.TASK_DEFINITION_ARN)) {
    const expected = `a task definition in the cluster's region ${region(c.CLUSTER_ARN)}`;
    throw new ConfigError([{ variable: 'TASK_DEFINITION_ARN', value: c.TASK_DEFINITION_ARN, expected }]);
  }
  return {
    stackName: c.ENDPOINT_STACK_NAME,
    vpcId: c.VPC_ID,
    subnetIds: c.SUBNET_IDS,
    endpointSubnetIds: c.ENDPOINT_SUBNET_IDS ?? c.SUBNET_IDS,
    taskSecurityGroupIds: c.TASK_SECURITY_GROUP_IDS,
    endpointServices: c.ENDPOINT_SERVICES,
    clusterArn: c.CLUSTER_ARN,
    taskDefinitionArn: c.TASK_DEFINITION_ARN,
    cfnRoleArn: c.CFN_ROLE_ARN,
    leaseMs: c.LEASE_SECONDS * 1000,
    deletePolicy: c.DELETE_POLICY,
    billingGuardMs: c.BILLING_GUARD_SECONDS * 1000,
    billingAnchor: c.BILLING_ANCHOR === 'stack-creation' ? ('endpoint-creation' as const) : c.BILLING_ANCHOR,
    consistencySettleMs: c.CONSISTENCY_SETTLE_SECONDS * 1000,
    acceptedSources: c.ACQUIRE_EVENT_SOURCES,
    deleteAttempts: c.DELETE_ATTEMPTS,
    deadlineMarginMs,
  };
}
