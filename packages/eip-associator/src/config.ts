import { type ConfigOf, integer, optional, parseConfig, stringMap } from '@netkit/aws-core/config';
import { type LifecycleScope, lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';

/** Tag keys and values as EC2 accepts them (keys 1..128 characters, not `aws:`; values up to 256). */
const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

const configSpec = {
  ...lifecycleScopeSpec,
  EIP_POOL_TAGS: stringMap({
    keyPattern: TAG_KEY,
    valuePattern: TAG_VALUE,
    // An EIP carries at most 50 user tags (EC2 User Guide, "Tag restrictions"): more never match.
    maxKeys: 50,
    what: 'EC2 tag key -> tag value (keys must not start with "aws:")',
  }),
  ASSOCIATE_TIMEOUT_SECONDS: optional(integer({ min: 1, max: 900 })),
  DEADLINE_MARGIN_SECONDS: optional(integer({ min: 1, max: 120 }), 10),
  HEARTBEAT_INTERVAL_SECONDS: optional(integer({ min: 10, max: 3600 }), 60),
};

/** The validated configuration (README "Configuration"); durations in milliseconds. */
export interface Config {
  scope: LifecycleScope;
  /** EIP_POOL_TAGS: the tags an EIP must carry (all pairs) to belong to the pool. */
  poolTags: Record<string, string>;
  /** Undefined: the Lambda's remaining time minus `deadlineMarginMs`. */
  associateTimeoutMs: number | undefined;
  deadlineMarginMs: number;
  heartbeatIntervalMs: number;
}

/** Parse and validate the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: ConfigOf<typeof configSpec> = parseConfig(configSpec, env);
  const timeout = raw.ASSOCIATE_TIMEOUT_SECONDS;
  return {
    scope: lifecycleScopeOf(raw),
    poolTags: raw.EIP_POOL_TAGS,
    associateTimeoutMs: timeout === undefined ? undefined : timeout * 1_000,
    deadlineMarginMs: raw.DEADLINE_MARGIN_SECONDS * 1_000,
    heartbeatIntervalMs: raw.HEARTBEAT_INTERVAL_SECONDS * 1_000,
  };
}
