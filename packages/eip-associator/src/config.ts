import { type ConfigOf, integer, optional, parseConfig, stringMap } from '@netkit/aws-core/config';
import { type LifecycleScope, lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';

/**
 * Tag keys and values as EC2 accepts them: keys 1..128 characters not starting with
 * `aws:`, values up to 256 characters.
 */
const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

export const configSpec = {
  /** AUTO_SCALING_GROUP_NAME (required), LIFECYCLE_HOOK_NAMES (optional): events of other groups/hooks are rejected. */
  ...lifecycleScopeSpec,
  /** JSON object of tags an EIP must carry (all pairs) to belong to the pool. */
  EIP_POOL_TAGS: stringMap({
    keyPattern: TAG_KEY,
    valuePattern: TAG_VALUE,
    // An EIP carries at most 50 user tags (EC2 User Guide, "Tag restrictions"): more never match.
    maxKeys: 50,
    what: 'EC2 tag key -> tag value (keys must not start with "aws:")',
  }),
  /**
   * How long one launch may keep trying (pool empty, instance pending, throttling) before it
   * completes ABANDON. Unset: the Lambda's remaining time minus DEADLINE_MARGIN_SECONDS.
   */
  ASSOCIATE_TIMEOUT_SECONDS: optional(integer({ min: 1, max: 900 })),
  /** Time kept in reserve before the Lambda timeout to complete ABANDON and flush metrics. */
  DEADLINE_MARGIN_SECONDS: optional(integer({ min: 1, max: 120 }), 10),
  /** How often to record a lifecycle heartbeat while waiting for a free EIP. */
  HEARTBEAT_INTERVAL_SECONDS: optional(integer({ min: 10, max: 3600 }), 60),
};

/** The validated configuration: camelCase, durations in milliseconds (converted once from the seconds of the environment). */
export interface Config {
  /** The group (and hooks) whose lifecycle events this function acts on (AUTO_SCALING_GROUP_NAME, LIFECYCLE_HOOK_NAMES). */
  scope: LifecycleScope;
  /** EIP_POOL_TAGS: the tags an EIP must carry (all pairs) to belong to the pool. */
  poolTags: Record<string, string>;
  /** ASSOCIATE_TIMEOUT_SECONDS in ms; undefined: the Lambda's remaining time minus `deadlineMarginMs`. */
  associateTimeoutMs: number | undefined;
  /** DEADLINE_MARGIN_SECONDS in ms: kept before the Lambda timeout to complete ABANDON and flush metrics. */
  deadlineMarginMs: number;
  /** HEARTBEAT_INTERVAL_SECONDS in ms. */
  heartbeatIntervalMs: number;
}

/** Parse and validate the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: ConfigOf<typeof configSpec> = parseConfig(configSpec, env);
  return {
    scope: lifecycleScopeOf(raw),
    poolTags: raw.EIP_POOL_TAGS,
    associateTimeoutMs:
      raw.ASSOCIATE_TIMEOUT_SECONDS === undefined ? undefined : raw.ASSOCIATE_TIMEOUT_SECONDS * 1_000,
    deadlineMarginMs: raw.DEADLINE_MARGIN_SECONDS * 1_000,
    heartbeatIntervalMs: raw.HEARTBEAT_INTERVAL_SECONDS * 1_000,
  };
}
