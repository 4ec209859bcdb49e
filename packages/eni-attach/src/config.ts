import {
  boolean,
  Invalid,
  integer,
  json,
  optional,
  parseConfig,
  patterns,
  stringList,
  stringMap,
} from '@netkit/aws-core/config';
import { ConfigError, type ConfigIssue, echo } from '@netkit/aws-core/errors';
import { type LifecycleScope, lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';
import { RESERVED_TAG_PREFIXES } from './naming.ts';

/** Availability Zone names, including Local Zones (`us-west-2-lax-1a`). */
export const AZ_PATTERN = /^[a-z]{2}(-[a-z0-9]+)+[a-z]$/;
/** Device index 0 is the primary interface; EC2 accepts up to 31 on the largest types. */
export const MAX_DEVICE_INDEX = 31;
/**
 * Security groups per network interface: 5 by default, at most 16 by quota increase (Amazon VPC User
 * Guide, "Amazon VPC quotas", Security groups). More than 16 can never work and is refused at load;
 * between the account's quota and 16, CreateNetworkInterface refuses and nothing is created.
 */
export const MAX_SECURITY_GROUPS = 16;
/** EC2 allows up to 50 tags per resource; this package writes 6 of its own. */
export const MAX_USER_TAGS = 44;

/** One extra interface per instance: which device index, which subnet per AZ, which groups. */
export interface AttachmentSpec {
  deviceIndex: number;
  /** Availability Zone -> subnet id (the subnet may belong to another VPC of the account). */
  subnetMap: Record<string, string>;
  securityGroupIds: string[];
  /** `false` turns source/destination checking off on the ENI (appliances); unset leaves EC2's default. */
  sourceDestCheck?: boolean;
}

export interface Config {
  /** AUTO_SCALING_GROUP_NAME, LIFECYCLE_HOOK_NAMES: lifecycle events of any other group or hook are rejected. */
  scope: LifecycleScope;
  /** Sorted by device index; at least one. */
  attachments: AttachmentSpec[];
  /** Extra tags (ENI_TAGS) on every ENI this package creates. */
  eniTags: Record<string, string>;
  /** Record a lifecycle heartbeat when a wait has lasted this long since the last one. */
  heartbeatIntervalMs: number;
  /**
   * Kept before the Lambda deadline for CompleteLifecycleAction (capped at a twentieth of the
   * remaining time on a short timeout). Not an environment variable.
   */
  deadlineMarginMs: number;
}

/** Default `deadlineMarginMs` of the launch function. */
export const DEADLINE_MARGIN_MS = 1_000;
/** Default `deadlineMarginMs` of the sweeper. */
export const SWEEPER_DEADLINE_MARGIN_MS = 2_000;

const subnetMapField = stringMap({
  keyPattern: AZ_PATTERN,
  valuePattern: patterns.subnetId,
  what: 'Availability Zone -> subnet id (e.g. {"us-east-1a":"subnet-0123456789abcdef0"})',
});

const launchSpec = {
  ...lifecycleScopeSpec,
  SUBNET_MAP: optional(subnetMapField),
  SECURITY_GROUP_IDS: optional(
    stringList({
      pattern: patterns.securityGroupId,
      item: 'security group id',
      maxItems: MAX_SECURITY_GROUPS,
      limit: 'a network interface takes at most 16',
    }),
  ),
  DEVICE_INDEX: optional(integer({ min: 1, max: MAX_DEVICE_INDEX })),
  SOURCE_DEST_CHECK: optional(boolean()),
  ENI_TAGS: optional(
    stringMap({
      what: 'tag key -> value (keys not starting with aws: or netkit:, keys <= 128, values <= 256 characters)',
    }),
  ),
  ATTACHMENTS: optional(
    json(
      'a JSON array of {"deviceIndex": 1..31, "subnetMap": {AZ: subnet id}, "securityGroupIds": [sg ids], "sourceDestCheck"?: boolean} with distinct device indexes',
      parseAttachments,
    ),
  ),
  HEARTBEAT_INTERVAL_SECONDS: optional(integer({ min: 10, max: 3600 }), 60),
};

const ATTACHMENT_KEYS = new Set(['deviceIndex', 'subnetMap', 'securityGroupIds', 'sourceDestCheck']);

function parseAttachments(value: unknown): AttachmentSpec[] {
  if (!Array.isArray(value) || value.length === 0) throw new Invalid('a non-empty JSON array of attachments');
  const seen = new Set<number>();
  return value.map((item: unknown, i) => {
    const where = `ATTACHMENTS[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new Invalid(`${where} to be an object`);
    }
    const o = item as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!ATTACHMENT_KEYS.has(key)) {
        throw new Invalid(
          `${where} to have only ${[...ATTACHMENT_KEYS].join(', ')}; unknown key ${echo(key, 40)}`,
        );
      }
    }
    const index = o.deviceIndex;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > MAX_DEVICE_INDEX) {
      throw new Invalid(`${where}.deviceIndex to be an integer from 1 to ${MAX_DEVICE_INDEX}`);
    }
    if (seen.has(index)) throw new Invalid(`${where}.deviceIndex ${index} to be distinct (it is repeated)`);
    seen.add(index);
    let subnetMap: Record<string, string>;
    try {
      subnetMap = subnetMapField.parse(JSON.stringify(o.subnetMap ?? null));
    } catch (error) {
      if (error instanceof Invalid) throw new Invalid(`${where}.subnetMap to be ${error.message}`);
      throw error;
    }
    const groups = o.securityGroupIds;
    if (
      !Array.isArray(groups) ||
      groups.length === 0 ||
      groups.length > MAX_SECURITY_GROUPS ||
      groups.some((g) => typeof g !== 'string' || !patterns.securityGroupId.test(g))
    ) {
      throw new Invalid(`${where}.securityGroupIds to be an array of 1 to 16 security group ids (sg-...)`);
    }
    const spec: AttachmentSpec = {
      deviceIndex: index,
      subnetMap,
      securityGroupIds: [...new Set(groups as string[])],
    };
    if (o.sourceDestCheck !== undefined) {
      if (typeof o.sourceDestCheck !== 'boolean')
        throw new Invalid(`${where}.sourceDestCheck to be a boolean`);
      spec.sourceDestCheck = o.sourceDestCheck;
    }
    return spec;
  });
}

function checkTags(tags: Record<string, string>, issues: ConfigIssue[], raw: string | undefined) {
  const bad = Object.entries(tags).find(
    ([k, v]) =>
      RESERVED_TAG_PREFIXES.some((p) => k.toLowerCase().startsWith(p)) || k.length > 128 || v.length > 256,
  );
  if (bad) {
    issues.push({
      variable: 'ENI_TAGS',
      value: raw,
      expected: `tag keys not starting with ${RESERVED_TAG_PREFIXES.join(' or ')} (keys <= 128, values <= 256 characters); bad entry ${echo(bad[0], 40)}`,
    });
  } else if (Object.keys(tags).length > MAX_USER_TAGS) {
    issues.push({ variable: 'ENI_TAGS', value: raw, expected: `at most ${MAX_USER_TAGS} tags` });
  }
}

/**
 * Parse the launch handler's environment. Either the single-interface variables
 * (SUBNET_MAP + SECURITY_GROUP_IDS [+ DEVICE_INDEX, SOURCE_DEST_CHECK]) or
 * ATTACHMENTS, never both. Throws ConfigError naming every bad variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = parseConfig(launchSpec, env);
  const issues: ConfigIssue[] = [];
  let attachments: AttachmentSpec[] = [];
  if (raw.ATTACHMENTS !== undefined) {
    for (const variable of [
      'SUBNET_MAP',
      'SECURITY_GROUP_IDS',
      'DEVICE_INDEX',
      'SOURCE_DEST_CHECK',
    ] as const) {
      if (raw[variable] !== undefined) {
        issues.push({
          variable,
          value: env[variable],
          expected: 'unset when ATTACHMENTS is set (ATTACHMENTS describes every interface)',
        });
      }
    }
    attachments = [...raw.ATTACHMENTS].sort((a, b) => a.deviceIndex - b.deviceIndex);
  } else {
    if (raw.SUBNET_MAP === undefined) {
      issues.push({
        variable: 'SUBNET_MAP',
        value: undefined,
        expected: 'a JSON object of Availability Zone -> subnet id (or set ATTACHMENTS instead)',
      });
    }
    if (raw.SECURITY_GROUP_IDS === undefined) {
      issues.push({
        variable: 'SECURITY_GROUP_IDS',
        value: undefined,
        expected: 'a JSON array or comma-separated list of security group ids in the subnets’ VPC',
      });
    }
    if (raw.SUBNET_MAP !== undefined && raw.SECURITY_GROUP_IDS !== undefined) {
      const spec: AttachmentSpec = {
        deviceIndex: raw.DEVICE_INDEX ?? 1,
        subnetMap: raw.SUBNET_MAP,
        securityGroupIds: raw.SECURITY_GROUP_IDS,
      };
      if (raw.SOURCE_DEST_CHECK !== undefined) spec.sourceDestCheck = raw.SOURCE_DEST_CHECK;
      attachments = [spec];
    }
  }
  const eniTags = raw.ENI_TAGS ?? {};
  checkTags(eniTags, issues, env.ENI_TAGS);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    scope: lifecycleScopeOf(raw),
    attachments,
    eniTags,
    heartbeatIntervalMs: raw.HEARTBEAT_INTERVAL_SECONDS * 1000,
    deadlineMarginMs: DEADLINE_MARGIN_MS,
  };
}

export interface SweeperConfig {
  /** Only `available` ENIs older than this are deleted. */
  graceMs: number;
  /** Report what would be deleted without deleting. */
  dryRun: boolean;
  /** At most this many deletions per run (keeps a run inside the Lambda timeout and EC2's buckets). */
  maxDeletes: number;
  /** Kept before the Lambda deadline so the run reports before it is cut off. Not an environment variable. */
  deadlineMarginMs: number;
}

/** Lambda's default MaximumEventAgeInSeconds for asynchronous invocations (6 hours). */
export const LAMBDA_DEFAULT_MAX_EVENT_AGE_SECONDS = 21_600;
/** EventBridge's default target RetryPolicy MaximumEventAgeInSeconds (24 hours). */
export const EVENTBRIDGE_DEFAULT_MAX_EVENT_AGE_SECONDS = 86_400;
/** Lambda's longest function timeout. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** Added to the shortest safe grace period for the default: clock skew, a slow delete, a late run. */
export const GRACE_MARGIN_MINUTES = 5;
export const DEFAULT_GRACE_MINUTES = 30;

const sweepSpec = {
  SWEEP_GRACE_MINUTES: optional(integer({ min: 5, max: 10_080 })),
  SWEEP_DRY_RUN: optional(boolean(), false),
  SWEEP_MAX_DELETES: optional(integer({ min: 1, max: 1000 }), 100),
  // What bounds the age of a launch whose ENI the sweeper could see: an ENI's creation tag is the
  // lifecycle event's time, and a launch invocation may start as late as the rule's plus the
  // function's maximum event age after it, then run for the function's timeout.
  LAUNCH_RULE_MAX_EVENT_AGE_SECONDS: optional(
    integer({ min: 60, max: 86_400 }),
    EVENTBRIDGE_DEFAULT_MAX_EVENT_AGE_SECONDS,
  ),
  LAUNCH_MAX_EVENT_AGE_SECONDS: optional(
    integer({ min: 60, max: 21_600 }),
    LAMBDA_DEFAULT_MAX_EVENT_AGE_SECONDS,
  ),
  LAUNCH_FUNCTION_TIMEOUT_SECONDS: optional(
    integer({ min: 1, max: LAMBDA_MAX_TIMEOUT_SECONDS }),
    LAMBDA_MAX_TIMEOUT_SECONDS,
  ),
};

/**
 * The shortest grace period (whole minutes) that never sweeps an ENI a launch invocation may still
 * attach: strictly longer than the rule's and the function's maximum event age plus the function
 * timeout, because the ENI's creation tag is the event's time, not the create's.
 */
export function minimumGraceMinutes(
  ruleAgeSeconds: number,
  functionAgeSeconds: number,
  timeoutSeconds: number,
) {
  return Math.floor((ruleAgeSeconds + functionAgeSeconds + timeoutSeconds) / 60) + 1;
}

/**
 * Parse the sweeper's environment. SWEEP_GRACE_MINUTES must exceed the longest time a launch may
 * still work on an ENI (LAUNCH_RULE_MAX_EVENT_AGE_SECONDS + LAUNCH_MAX_EVENT_AGE_SECONDS +
 * LAUNCH_FUNCTION_TIMEOUT_SECONDS; unset, each is AWS's default or maximum). Unset, it is the
 * larger of 30 minutes and that minimum plus 5 minutes. Throws ConfigError otherwise.
 */
export function loadSweeperConfig(env: Record<string, string | undefined> = process.env): SweeperConfig {
  const raw = parseConfig(sweepSpec, env);
  const minimum = minimumGraceMinutes(
    raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS,
    raw.LAUNCH_MAX_EVENT_AGE_SECONDS,
    raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS,
  );
  const grace = raw.SWEEP_GRACE_MINUTES ?? Math.max(DEFAULT_GRACE_MINUTES, minimum + GRACE_MARGIN_MINUTES);
  if (grace < minimum) {
    throw new ConfigError([
      {
        variable: 'SWEEP_GRACE_MINUTES',
        value: env.SWEEP_GRACE_MINUTES,
        expected: `at least ${minimum} minutes: longer than the launch events' maximum age (LAUNCH_RULE_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS} + LAUNCH_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_MAX_EVENT_AGE_SECONDS}) plus the launch function's timeout (LAUNCH_FUNCTION_TIMEOUT_SECONDS ${raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS}), so a late retry's fresh ENI is never swept; or leave it unset for a derived default`,
      },
    ]);
  }
  return {
    graceMs: grace * 60_000,
    dryRun: raw.SWEEP_DRY_RUN,
    maxDeletes: raw.SWEEP_MAX_DELETES,
    deadlineMarginMs: SWEEPER_DEADLINE_MARGIN_MS,
  };
}
