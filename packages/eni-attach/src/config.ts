import {
  boolean,
  type ConfigOf,
  InvalidValueError,
  integer,
  json,
  optional,
  parseConfig,
  patterns,
  stringList,
  stringMap,
} from '@netkit/aws-core/config';
import { ConfigError, type ConfigIssue, echo } from '@netkit/aws-core/errors';
import { lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';

/** One extra interface per instance; the subnets may be in another VPC of the account. */
const attachmentFields = {
  deviceIndex: integer({ min: 1, max: 31 }),
  subnetMap: stringMap({
    keyPattern: /^[a-z]{2}(-[a-z0-9]+)+[a-z]$/, // Local Zones too (us-west-2-lax-1a)
    valuePattern: patterns.subnetId,
    what: 'Availability Zone -> subnet id (e.g. {"us-east-1a":"subnet-0123456789abcdef0"})',
  }),
  securityGroupIds: stringList({
    pattern: patterns.securityGroupId,
    item: 'security group id',
    maxItems: 16, // 5 by default, 16 at most by quota (Amazon VPC quotas)
    limit: 'a network interface takes at most 16',
  }),
  /** Unset leaves EC2's default (on). */
  sourceDestCheck: optional(boolean()),
};
export type AttachmentSpec = ConfigOf<typeof attachmentFields>;

const launchSpec = {
  ...lifecycleScopeSpec,
  SUBNET_MAP: optional(attachmentFields.subnetMap),
  SECURITY_GROUP_IDS: optional(attachmentFields.securityGroupIds),
  DEVICE_INDEX: optional(attachmentFields.deviceIndex, 1),
  SOURCE_DEST_CHECK: attachmentFields.sourceDestCheck,
  ENI_TAGS: optional(
    stringMap({
      keyPattern: /^(?!aws:|netkit:).{1,128}$/is, // the reserved prefixes: AWS's and this package's own
      valuePattern: /^.{0,256}$/s,
      maxKeys: 44, // EC2 allows 50 tags per resource; this package writes 6
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

function parseAttachments(value: unknown): AttachmentSpec[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new InvalidValueError('a non-empty JSON array of attachments');
  const seen = new Set<number>();
  return value.map((item: unknown, i) => {
    const spec = parseAttachment(item, `ATTACHMENTS[${i}]`);
    if (seen.has(spec.deviceIndex))
      throw new InvalidValueError(
        `ATTACHMENTS[${i}].deviceIndex ${spec.deviceIndex} to be distinct (it is repeated)`,
      );
    seen.add(spec.deviceIndex);
    return spec;
  });
}

/** One ATTACHMENTS entry: each key parsed by the field of its single-interface variable. */
function parseAttachment(item: unknown, where: string): AttachmentSpec {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    throw new InvalidValueError(`${where} to be an object`);
  const keys = Object.keys(attachmentFields);
  const unknownKey = Object.keys(item).find((key) => !keys.includes(key));
  if (unknownKey !== undefined)
    throw new InvalidValueError(
      `${where} to have only ${keys.join(', ')}; unknown key ${echo(unknownKey, 40)}`,
    );
  const entries = Object.entries(attachmentFields).map(([key, field]) => {
    try {
      return [key, field.parse(JSON.stringify((item as Record<string, unknown>)[key]))];
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      throw new InvalidValueError(`${where}.${key} to be ${error.message}`);
    }
  });
  return Object.fromEntries(entries) as AttachmentSpec;
}

/** The launch handler's environment: SUBNET_MAP + SECURITY_GROUP_IDS (+ DEVICE_INDEX, SOURCE_DEST_CHECK) or ATTACHMENTS. */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const raw = parseConfig(launchSpec, env);
  const { SUBNET_MAP: subnetMap, SECURITY_GROUP_IDS: securityGroupIds, ATTACHMENTS } = raw;
  const issues: ConfigIssue[] = [];
  if (ATTACHMENTS) {
    const expected = 'unset when ATTACHMENTS is set (ATTACHMENTS describes every interface)';
    for (const variable of ['SUBNET_MAP', 'SECURITY_GROUP_IDS', 'DEVICE_INDEX', 'SOURCE_DEST_CHECK'])
      if (env[variable]) issues.push({ variable, value: env[variable], expected });
  } else {
    if (!subnetMap) {
      const expected = 'a JSON object of Availability Zone -> subnet id (or set ATTACHMENTS instead)';
      issues.push({ variable: 'SUBNET_MAP', value: undefined, expected });
    }
    if (!securityGroupIds) {
      const expected = 'a JSON array or comma-separated list of security group ids in the subnets’ VPC';
      issues.push({ variable: 'SECURITY_GROUP_IDS', value: undefined, expected });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const deviceIndex = raw.DEVICE_INDEX;
  const single =
    subnetMap && securityGroupIds
      ? [{ deviceIndex, subnetMap, securityGroupIds, sourceDestCheck: raw.SOURCE_DEST_CHECK }]
      : [];
  return {
    scope: lifecycleScopeOf(raw),
    /** At least one, sorted by device index. */
    attachments: (ATTACHMENTS ?? single).sort((a, b) => a.deviceIndex - b.deviceIndex),
    eniTags: raw.ENI_TAGS ?? {},
    heartbeatIntervalMs: raw.HEARTBEAT_INTERVAL_SECONDS * 1000,
    /** Kept before the Lambda deadline for CompleteLifecycleAction. */
    deadlineMarginMs: 1_000,
  };
}
export type Config = ReturnType<typeof loadConfig>;

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
export function loadSweeperConfig(env: Record<string, string | undefined> = process.env) {
  const raw = parseConfig(sweepSpec, env);
  const ages = raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS + raw.LAUNCH_MAX_EVENT_AGE_SECONDS;
  const minimum = Math.floor((ages + raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS) / 60) + 1;
  // The default adds 5 minutes for clock skew, a slow delete, a late run.
  const grace = raw.SWEEP_GRACE_MINUTES ?? Math.max(30, minimum + 5);
  if (grace < minimum) {
    const expected = `at least ${minimum} minutes (LAUNCH_RULE_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_RULE_MAX_EVENT_AGE_SECONDS} + LAUNCH_MAX_EVENT_AGE_SECONDS ${raw.LAUNCH_MAX_EVENT_AGE_SECONDS} + LAUNCH_FUNCTION_TIMEOUT_SECONDS ${raw.LAUNCH_FUNCTION_TIMEOUT_SECONDS}), or unset`;
    throw new ConfigError([{ variable: 'SWEEP_GRACE_MINUTES', value: env.SWEEP_GRACE_MINUTES, expected }]);
  }
  return {
    /** Only `available` ENIs older than this are deleted. */
    graceMs: grace * 60_000,
    dryRun: raw.SWEEP_DRY_RUN,
    maxDeletes: raw.SWEEP_MAX_DELETES,
    deadlineMarginMs: 2_000,
  };
}
export type SweeperConfig = ReturnType<typeof loadSweeperConfig>;
