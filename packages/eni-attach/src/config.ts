import {
  boolean,
  type ConfigOf,
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

const MAX_DEVICE_INDEX = 31;
/** A network interface takes 5 security groups by default, 16 at most by quota (Amazon VPC quotas). */
const MAX_SECURITY_GROUPS = 16;
/** EC2 allows 50 tags per resource; this package writes 6. */
const MAX_USER_TAGS = 44;

/** One extra interface per instance; the subnets may be in another VPC of the account. */
export interface AttachmentSpec {
  deviceIndex: number;
  subnetMap: Record<string, string>;
  securityGroupIds: string[];
  /** Unset leaves EC2's default (on). */
  sourceDestCheck?: boolean;
}

export interface Config {
  scope: LifecycleScope;
  /** Sorted by device index; at least one. */
  attachments: AttachmentSpec[];
  eniTags: Record<string, string>;
  heartbeatIntervalMs: number;
  /** Kept before the Lambda deadline for CompleteLifecycleAction. Not an environment variable. */
  deadlineMarginMs: number;
}

export const DEADLINE_MARGIN_MS = 1_000;
const SWEEPER_DEADLINE_MARGIN_MS = 2_000;

const subnetMapField = stringMap({
  keyPattern: /^[a-z]{2}(-[a-z0-9]+)+[a-z]$/, // Local Zones too (us-west-2-lax-1a)
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
      keyPattern: /^(?!aws:|netkit:).{1,128}$/is, // the reserved prefixes: AWS's and this package's own
      valuePattern: /^.{0,256}$/s,
      maxKeys: MAX_USER_TAGS,
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
  return value.map((item: unknown, i) => parseAttachment(item, `ATTACHMENTS[${i}]`, seen));
}

function parseAttachment(item: unknown, where: string, seen: Set<number>): AttachmentSpec {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    throw new Invalid(`${where} to be an object`);
  const o = item as Record<string, unknown>;
  const unknownKey = Object.keys(o).find((key) => !ATTACHMENT_KEYS.has(key));
  if (unknownKey !== undefined)
    throw new Invalid(
      `${where} to have only ${[...ATTACHMENT_KEYS].join(', ')}; unknown key ${echo(unknownKey, 40)}`,
    );
  const index = o.deviceIndex;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > MAX_DEVICE_INDEX)
    throw new Invalid(`${where}.deviceIndex to be an integer from 1 to ${MAX_DEVICE_INDEX}`);
  if (seen.has(index)) throw new Invalid(`${where}.deviceIndex ${index} to be distinct (it is repeated)`);
  seen.add(index);
  let subnetMap: Record<string, string>;
  try {
    subnetMap = subnetMapField.parse(JSON.stringify(o.subnetMap ?? null));
  } catch (error) {
    if (error instanceof Invalid) throw new Invalid(`${where}.subnetMap to be ${error.message}`);
    throw error;
  }
  const groups: unknown[] = Array.isArray(o.securityGroupIds) ? o.securityGroupIds : [];
  const isGroup = (g: unknown) => typeof g === 'string' && patterns.securityGroupId.test(g);
  if (groups.length === 0 || groups.length > MAX_SECURITY_GROUPS || !groups.every(isGroup))
    throw new Invalid(`${where}.securityGroupIds to be an array of 1 to 16 security group ids (sg-...)`);
  if (o.sourceDestCheck !== undefined && typeof o.sourceDestCheck !== 'boolean')
    throw new Invalid(`${where}.sourceDestCheck to be a boolean`);
  const securityGroupIds = [...new Set(groups as string[])];
  const sourceDestCheck = o.sourceDestCheck as boolean | undefined;
  return { deviceIndex: index, subnetMap, securityGroupIds, sourceDestCheck };
}

/** The launch handler's environment: SUBNET_MAP + SECURITY_GROUP_IDS (+ DEVICE_INDEX, SOURCE_DEST_CHECK) or ATTACHMENTS. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = parseConfig(launchSpec, env);
  const issues: ConfigIssue[] = [];
  const attachments = raw.ATTACHMENTS === undefined ? singleAttachment(raw, issues) : [...raw.ATTACHMENTS];
  const single = ['SUBNET_MAP', 'SECURITY_GROUP_IDS', 'DEVICE_INDEX', 'SOURCE_DEST_CHECK'] as const;
  for (const variable of raw.ATTACHMENTS === undefined ? [] : single.filter((v) => raw[v] !== undefined)) {
    const expected = 'unset when ATTACHMENTS is set (ATTACHMENTS describes every interface)';
    issues.push({ variable, value: env[variable], expected });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    scope: lifecycleScopeOf(raw),
    attachments: attachments.sort((a, b) => a.deviceIndex - b.deviceIndex),
    eniTags: raw.ENI_TAGS ?? {},
    heartbeatIntervalMs: raw.HEARTBEAT_INTERVAL_SECONDS * 1000,
    deadlineMarginMs: DEADLINE_MARGIN_MS,
  };
}

function singleAttachment(raw: ConfigOf<typeof launchSpec>, issues: ConfigIssue[]) {
  if (raw.SUBNET_MAP === undefined) {
    const expected = 'a JSON object of Availability Zone -> subnet id (or set ATTACHMENTS instead)';
    issues.push({ variable: 'SUBNET_MAP', value: undefined, expected });
  }
  if (raw.SECURITY_GROUP_IDS === undefined) {
    const expected = 'a JSON array or comma-separated list of security group ids in the subnets’ VPC';
    issues.push({ variable: 'SECURITY_GROUP_IDS', value: undefined, expected });
  }
  if (raw.SUBNET_MAP === undefined || raw.SECURITY_GROUP_IDS === undefined) return [];
  const {
    SUBNET_MAP: subnetMap,
    SECURITY_GROUP_IDS: securityGroupIds,
    SOURCE_DEST_CHECK: sourceDestCheck,
  } = raw;
  return [{ deviceIndex: raw.DEVICE_INDEX ?? 1, subnetMap, securityGroupIds, sourceDestCheck }];
}

export interface SweeperConfig {
  /** Only `available` ENIs older than this are deleted. */
  graceMs: number;
  dryRun: boolean;
  maxDeletes: number;
  /** Kept before the Lambda deadline so the run reports before it is cut off. Not an environment variable. */
  deadlineMarginMs: number;
}

/** Added to the shortest safe grace period for the default: clock skew, a slow delete, a late run. */
const GRACE_MARGIN_MINUTES = 5;

const sweepSpec = {
  SWEEP_GRACE_MINUTES: optional(integer({ min: 5, max: 10_080 })),
  SWEEP_DRY_RUN: optional(boolean(), false),
  SWEEP_MAX_DELETES: optional(integer({ min: 1, max: 1000 }), 100),
  // A launch may start as late as both maximum event ages after its event, then run a timeout.
  // Defaults: EventBridge's and Lambda's default maximum event ages, Lambda's longest timeout.
  LAUNCH_RULE_MAX_EVENT_AGE_SECONDS: optional(integer({ min: 60, max: 86_400 }), 86_400),
  LAUNCH_MAX_EVENT_AGE_SECONDS: optional(integer({ min: 60, max: 21_600 }), 21_600),
  LAUNCH_FUNCTION_TIMEOUT_SECONDS: optional(integer({ min: 1, max: 900 }), 900),
};

/**
 * The sweeper's environment. SWEEP_GRACE_MINUTES must outlast any launch that may still work on an
 * ENI (the creation tag is the event's time): both maximum event ages plus the launch timeout.
 */
export function loadSweeperConfig(env: Record<string, string | undefined> = process.env): SweeperConfig {
  const raw = parseConfig(sweepSpec, env);
  const ages = raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS + raw.LAUNCH_MAX_EVENT_AGE_SECONDS;
  const minimum = Math.floor((ages + raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS) / 60) + 1;
  const grace = raw.SWEEP_GRACE_MINUTES ?? Math.max(30, minimum + GRACE_MARGIN_MINUTES);
  if (grace < minimum) {
    const expected = `at least ${minimum} minutes (LAUNCH_RULE_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS} + LAUNCH_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_MAX_EVENT_AGE_SECONDS} + LAUNCH_FUNCTION_TIMEOUT_SECONDS ${raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS}), or unset`;
    throw new ConfigError([{ variable: 'SWEEP_GRACE_MINUTES', value: env.SWEEP_GRACE_MINUTES, expected }]);
  }
  return {
    graceMs: grace * 60_000,
    dryRun: raw.SWEEP_DRY_RUN,
    maxDeletes: raw.SWEEP_MAX_DELETES,
    deadlineMarginMs: SWEEPER_DEADLINE_MARGIN_MS,
  };
}
