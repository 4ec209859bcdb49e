import {
  boolean,
  type ConfigOf,
  integer,
  optional,
  parseConfig,
  string,
  stringMap,
} from '@netkit/aws-core/config';
import { lifecycleScopeOf, lifecycleScopeSpec } from '@netkit/aws-core/lifecycle-scope';

/** Tag keys EC2 accepts from users: 1..128 characters, not starting with the reserved `aws:` prefix. */
const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Only these tag keys reach instance metadata, where `--hostname-from-tag` reads the hostname. */
const METADATA_TAG_KEY = /^(?!aws:)(?!\.{1,2}$)(?!_index$)[A-Za-z0-9+\-=.,_:@]{1,128}$/;
const METADATA_TAG_KEY_DESCRIPTION =
  'a tag key instance metadata can serve: 1-128 of letters, digits and + - = . , _ : @ (no spaces or /, not "aws:...", ".", ".." or "_index")';

/** The settings the allocation core needs, shared by Lambda mode and the agent. */
export const poolSpec = {
  ENI_POOL_TAGS: stringMap({
    keyPattern: TAG_KEY,
    valuePattern: TAG_VALUE,
    // A resource carries at most 50 user tags: more never match.
    maxKeys: 50,
    what: 'tag key -> tag value (the tags every pool ENI carries)',
  }),
  HOSTNAME_TAG: optional(
    string({ pattern: METADATA_TAG_KEY, description: METADATA_TAG_KEY_DESCRIPTION }),
    'HostName',
  ),
  DEVICE_INDEX: optional(integer({ min: 1, max: 31 }), 1),
  // A launch hook cannot wait longer than one Lambda invocation (15 minutes) minus a margin.
  ATTACH_TIMEOUT_SECONDS: optional(integer({ min: 1, max: 840 }), 120),
};

const lambdaSpec = { ...poolSpec, ...lifecycleScopeSpec, DETACH_ON_TERMINATE: optional(boolean(), true) };

/** The pool settings, as the allocation core and the agent use them. */
export function toPoolConfig(raw: ConfigOf<typeof poolSpec>) {
  return {
    tags: raw.ENI_POOL_TAGS,
    hostnameTag: raw.HOSTNAME_TAG,
    deviceIndex: raw.DEVICE_INDEX,
    attachTimeoutMs: raw.ATTACH_TIMEOUT_SECONDS * 1_000,
  };
}

export type PoolConfig = ReturnType<typeof toPoolConfig>;
/** What the allocation core works with. */
export type Pool = Omit<PoolConfig, 'attachTimeoutMs'>;

/** Parse the Lambda mode configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const raw = parseConfig(lambdaSpec, env);
  return {
    ...toPoolConfig(raw),
    scope: lifecycleScopeOf(raw),
    detachOnTerminate: raw.DETACH_ON_TERMINATE,
    /** Time kept back from the Lambda deadline to complete the lifecycle action (and clean up). */
    deadlineMarginMs: 10_000,
  };
}

export type Config = ReturnType<typeof loadConfig>;

export function loadPoolConfig(env: Record<string, string | undefined> = process.env): PoolConfig {
  return toPoolConfig(parseConfig(poolSpec, env));
}
