import {
  boolean,
  type ConfigOf,
  integer,
  optional,
  parseConfig,
  string,
  stringMap,
} from '@netkit/aws-core/config';
import { type LifecycleScope, lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';

/** Tag keys EC2 accepts from users: 1..128 characters, not starting with the reserved `aws:` prefix. */
export const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
/** Tag values: 0..256 characters of the same set. */
export const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/**
 * Tag keys that instance metadata can serve (`--hostname-from-tag` reads the hostname tag from
 * IMDS): letters, digits and `+ - = . , _ : @`; no spaces or `/`; not `.`, `..` or `_index`
 * (EC2 User Guide, "Work with instance tags in instance metadata"). EC2 leaves other keys out of
 * the instance metadata, so the agent would wait for a tag it can never see.
 */
export const METADATA_TAG_KEY = /^(?!aws:)(?!\.{1,2}$)(?!_index$)[A-Za-z0-9+\-=.,_:@]{1,128}$/;
const METADATA_TAG_KEY_DESCRIPTION =
  'a tag key instance metadata can serve: 1-128 of letters, digits and + - = . , _ : @ (no spaces or /, not "aws:...", ".", ".." or "_index")';

export const DEFAULT_HOSTNAME_TAG = 'HostName';
export const DEFAULT_DEVICE_INDEX = 1;
export const DEFAULT_ATTACH_TIMEOUT_SECONDS = 120;
/** A launch hook cannot wait longer than a Lambda invocation (15 minutes) minus a margin. */
export const MAX_ATTACH_TIMEOUT_SECONDS = 840;

/** The settings the allocation core needs, shared by Lambda mode and the agent. */
export const poolSpec = {
  /** Pool ENIs carry every pair of these tags. */
  ENI_POOL_TAGS: stringMap({
    keyPattern: TAG_KEY,
    valuePattern: TAG_VALUE,
    // A resource carries at most 50 user tags (EC2 User Guide, "Tag restrictions"): more never match.
    maxKeys: 50,
    what: 'tag key -> tag value (the tags every pool ENI carries)',
  }),
  /** Tag on a pool ENI (and, in Lambda mode, written on the instance) holding the hostname. */
  HOSTNAME_TAG: optional(
    string({ pattern: METADATA_TAG_KEY, description: METADATA_TAG_KEY_DESCRIPTION }),
    DEFAULT_HOSTNAME_TAG,
  ),
  /** Device index the pool ENI is attached at (0 is the primary interface). */
  DEVICE_INDEX: optional(integer({ min: 1, max: 31 }), DEFAULT_DEVICE_INDEX),
  /** How long a launch waits for a free pool ENI (and for the attachment) before giving up. */
  ATTACH_TIMEOUT_SECONDS: optional(
    integer({ min: 1, max: MAX_ATTACH_TIMEOUT_SECONDS }),
    DEFAULT_ATTACH_TIMEOUT_SECONDS,
  ),
};

export const lambdaSpec = {
  ...poolSpec,
  /** AUTO_SCALING_GROUP_NAME (required), LIFECYCLE_HOOK_NAMES (optional): events of other groups/hooks are rejected. */
  ...lifecycleScopeSpec,
  /** On a terminate lifecycle action, detach the pool ENI so a replacement can take it at once. */
  DETACH_ON_TERMINATE: optional(boolean(), true),
};

/** Time kept back from the Lambda deadline to complete the lifecycle action (and clean up). */
export const DEADLINE_MARGIN_MS = 10_000;

/** The pool settings, as the allocation core and the agent use them. */
export interface PoolConfig {
  /** Pool ENIs carry every pair of these tags (ENI_POOL_TAGS). */
  poolTags: Record<string, string>;
  /** HOSTNAME_TAG. */
  hostnameTag: string;
  /** DEVICE_INDEX. */
  deviceIndex: number;
  /** ATTACH_TIMEOUT_SECONDS, in milliseconds. */
  attachTimeoutMs: number;
}

/** The Lambda mode configuration. */
export interface Config extends PoolConfig {
  /** AUTO_SCALING_GROUP_NAME and LIFECYCLE_HOOK_NAMES. */
  scope: LifecycleScope;
  /** DETACH_ON_TERMINATE. */
  detachOnTerminate: boolean;
  /** Time kept back from the Lambda deadline to complete the lifecycle action. */
  deadlineMarginMs: number;
}

/** The pool settings from their environment variables' values (parsed with `poolSpec`). */
export function toPoolConfig(raw: ConfigOf<typeof poolSpec>): PoolConfig {
  return {
    poolTags: raw.ENI_POOL_TAGS,
    hostnameTag: raw.HOSTNAME_TAG,
    deviceIndex: raw.DEVICE_INDEX,
    attachTimeoutMs: raw.ATTACH_TIMEOUT_SECONDS * 1_000,
  };
}

/** Parse the Lambda mode configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = parseConfig(lambdaSpec, env);
  return {
    ...toPoolConfig(raw),
    scope: lifecycleScopeOf(raw),
    detachOnTerminate: raw.DETACH_ON_TERMINATE,
    deadlineMarginMs: DEADLINE_MARGIN_MS,
  };
}

/** Parse the agent's configuration (environment merged with command-line flags). */
export function loadPoolConfig(env: Record<string, string | undefined> = process.env): PoolConfig {
  return toPoolConfig(parseConfig(poolSpec, env));
}

/** What the allocation core works with. */
export interface Pool {
  tags: Record<string, string>;
  hostnameTag: string;
  deviceIndex: number;
}

export function poolOf(config: PoolConfig): Pool {
  return { tags: config.poolTags, hostnameTag: config.hostnameTag, deviceIndex: config.deviceIndex };
}
