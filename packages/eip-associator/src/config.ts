import { type ConfigOf, integer, optional, parseConfig, stringMap } from '@netkit/aws-core/config';
import { lifecycleScopeSpec } from '@netkit/aws-core/lifecycle';

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

export type Config = ConfigOf<typeof configSpec>;

/** Parse and validate the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseConfig(configSpec, env);
}
