import { integer, oneOf, optional, parseConfig, patterns, string, stringList } from '@netkit/aws-core/config';
import { ConfigError, type ConfigIssue } from '@netkit/aws-core/errors';

/**
 * Interface endpoint services a Fargate task needs without a NAT gateway: image pulls (ecr.api,
 * ecr.dkr; layers come through the S3 gateway endpoint) and the awslogs driver (logs). The shipped
 * task reads no secret, so secretsmanager is not in the default (a quarter less per hour); add it
 * (and e.g. ssm) when the task definition references secrets.
 */
export const DEFAULT_ENDPOINT_SERVICES = ['logs', 'ecr.api', 'ecr.dkr'] as const;

/** CloudFormation stack names: a letter, then letters, digits and hyphens (kept short for the tag keys). */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,99}$/;
/**
 * Short service names as in `com.amazonaws.<region>.<service>`, e.g. `ecr.dkr`, `ssmmessages`. The
 * template adds the prefix: a full name would be prefixed twice, so it is refused.
 */
const SERVICE = /^(?!com\.amazonaws\.)[a-z0-9][a-z0-9.-]{0,62}$/;
/**
 * RunTask's awsvpcConfiguration: "You can specify up to 16 subnets" and "up to 5 security groups"
 * (ECS API reference, AwsVpcConfiguration).
 */
export const MAX_TASK_SUBNETS = 16;
export const MAX_TASK_SECURITY_GROUPS = 5;
const CLUSTER_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}$/;
const TASK_DEFINITION_ARN =
  /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}(:\d+)?$/;
/** EventBridge `source`: up to 256 characters, no whitespace. */
const EVENT_SOURCE = /^[A-Za-z0-9._/:-]{1,256}$/;
export const DEFAULT_EVENT_SOURCES = ['aws.events', 'aws.scheduler'] as const;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

export const configSpec = {
  ENDPOINT_STACK_NAME: string({
    pattern: STACK_NAME,
    description: 'a CloudFormation stack name: a letter, then up to 99 letters, digits or hyphens',
  }),
  VPC_ID: string({ pattern: patterns.vpcId, description: 'a VPC id like vpc-0123456789abcdef0' }),
  SUBNET_IDS: stringList({
    pattern: patterns.subnetId,
    item: 'subnet id (subnet-...)',
    maxItems: MAX_TASK_SUBNETS,
    limit: 'RunTask awsvpcConfiguration takes at most 16 subnets',
  }),
  /**
   * Subnets of the interface endpoints: at most one per Availability Zone (an endpoint takes one
   * subnet per AZ). Defaults to SUBNET_IDS; the AZs are checked with DescribeSubnets before a create.
   */
  ENDPOINT_SUBNET_IDS: optional(stringList({ pattern: patterns.subnetId, item: 'subnet id (subnet-...)' })),
  TASK_SECURITY_GROUP_IDS: stringList({
    pattern: patterns.securityGroupId,
    item: 'security group id (sg-...)',
    maxItems: MAX_TASK_SECURITY_GROUPS,
    limit: 'RunTask awsvpcConfiguration takes at most 5 security groups',
  }),
  ENDPOINT_SERVICES: optional(
    stringList({
      pattern: SERVICE,
      item: 'short service name like ecr.dkr',
      limit: 'without com.amazonaws.<region>., which the template adds',
    }),
    [...DEFAULT_ENDPOINT_SERVICES],
  ),
  CLUSTER_ARN: string({
    pattern: CLUSTER_ARN,
    description: 'an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)',
  }),
  TASK_DEFINITION_ARN: string({
    pattern: TASK_DEFINITION_ARN,
    description:
      'an ECS task definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>[:<revision>])',
  }),
  CFN_ROLE_ARN: optional(
    string({ pattern: ROLE_ARN, description: 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)' }),
  ),
  LEASE_SECONDS: optional(integer({ min: 60, max: 86_400 }), 300),
  DELETE_POLICY: optional(oneOf(['hour-aligned', 'immediate'] as const), 'hour-aligned'),
  BILLING_GUARD_SECONDS: optional(integer({ min: 60, max: 1_800 }), 600),
  /** `stack-creation` is the former name of `endpoint-creation` (hours count from the earliest endpoint). */
  BILLING_ANCHOR: optional(
    oneOf(['clock-hour', 'endpoint-creation', 'stack-creation'] as const),
    // The best worst case over both billing models (bench/cost-sim.ts, README "Cost model").
    'clock-hour',
  ),
  /**
   * `source` values an EventBridge envelope may carry (scheduled rules send `aws.events`, EventBridge
   * Scheduler templated targets `aws.scheduler`); anything else is rejected without an AWS call.
   */
  ACQUIRE_EVENT_SOURCES: optional(
    stringList({ pattern: EVENT_SOURCE, item: 'event source like aws.events' }),
    [...DEFAULT_EVENT_SOURCES],
  ),
  /** Failed deletes (DELETE_FAILED) of one stack before the next delete retains the stuck resources. */
  DELETE_ATTEMPTS: optional(integer({ min: 1, max: 10 }), 3),
  /** Wait between the reaper announcing a delete and re-reading the lease (EC2 tags are eventually consistent). */
  CONSISTENCY_SETTLE_SECONDS: optional(integer({ min: 0, max: 60 }), 10),
};

export type DeletePolicy = 'hour-aligned' | 'immediate';
export type BillingAnchor = 'endpoint-creation' | 'clock-hour';

export interface Config {
  stackName: string;
  vpcId: string;
  subnetIds: string[];
  /** Subnets of the interface endpoints (one per AZ). */
  endpointSubnetIds: string[];
  taskSecurityGroupIds: string[];
  endpointServices: string[];
  clusterArn: string;
  taskDefinitionArn: string;
  cfnRoleArn: string | undefined;
  /** LEASE_SECONDS, in milliseconds. */
  leaseMs: number;
  deletePolicy: DeletePolicy;
  /** BILLING_GUARD_SECONDS, in milliseconds. */
  billingGuardMs: number;
  billingAnchor: BillingAnchor;
  /** CONSISTENCY_SETTLE_SECONDS, in milliseconds. */
  consistencySettleMs: number;
  acceptedSources: string[];
  deleteAttempts: number;
  /** Time kept back from the Lambda deadline to log and return (10 s for acquire, 5 s for the reaper). */
  deadlineMarginMs: number;
}

/** The acquire entry's margin before the Lambda deadline. */
export const ACQUIRE_DEADLINE_MARGIN_MS = 10_000;
/** The reaper entry's margin before the Lambda deadline (it reads and deletes; no wait for a stack). */
export const REAPER_DEADLINE_MARGIN_MS = 5_000;

function region(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/**
 * The configuration of the `acquire` entry. Both entries read one environment (the template sets
 * the same variables on both functions), so the reaper's loader is the same parse.
 */
export const loadAcquireConfig = (env: Record<string, string | undefined> = process.env): Config =>
  loadLeaseConfig(env, ACQUIRE_DEADLINE_MARGIN_MS);

/** The configuration of the `reaper` entry: the same environment as `acquire`'s. */
export const loadReaperConfig = (env: Record<string, string | undefined> = process.env): Config =>
  loadLeaseConfig(env, REAPER_DEADLINE_MARGIN_MS);

/**
 * Parse and validate the environment once. Throws ConfigError naming every bad variable,
 * including cross-field problems (the cluster and task definition must be in one region).
 */
function loadLeaseConfig(env: Record<string, string | undefined>, deadlineMarginMs: number): Config {
  const c = parseConfig(configSpec, env);
  const issues: ConfigIssue[] = [];
  if (region(c.CLUSTER_ARN) !== region(c.TASK_DEFINITION_ARN)) {
    issues.push({
      variable: 'TASK_DEFINITION_ARN',
      value: c.TASK_DEFINITION_ARN,
      expected: `a task definition in the cluster's region ${region(c.CLUSTER_ARN)}`,
    });
  }
  // Lists are de-duplicated by stringList; Availability Zones are checked with DescribeSubnets.
  const endpointSubnets = c.ENDPOINT_SUBNET_IDS ?? c.SUBNET_IDS;
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    stackName: c.ENDPOINT_STACK_NAME,
    vpcId: c.VPC_ID,
    subnetIds: c.SUBNET_IDS,
    endpointSubnetIds: endpointSubnets,
    taskSecurityGroupIds: c.TASK_SECURITY_GROUP_IDS,
    endpointServices: c.ENDPOINT_SERVICES,
    clusterArn: c.CLUSTER_ARN,
    taskDefinitionArn: c.TASK_DEFINITION_ARN,
    cfnRoleArn: c.CFN_ROLE_ARN,
    leaseMs: c.LEASE_SECONDS * 1000,
    deletePolicy: c.DELETE_POLICY,
    billingGuardMs: c.BILLING_GUARD_SECONDS * 1000,
    billingAnchor: c.BILLING_ANCHOR === 'clock-hour' ? 'clock-hour' : 'endpoint-creation',
    consistencySettleMs: c.CONSISTENCY_SETTLE_SECONDS * 1000,
    acceptedSources: c.ACQUIRE_EVENT_SOURCES,
    deleteAttempts: c.DELETE_ATTEMPTS,
    deadlineMarginMs,
  };
}
