import { type ConfigOf, integer, optional, parseConfig, string } from '@netkit/aws-core/config';

/**
 * Environment of the provider function. Everything has a default; an invalid
 * value throws ConfigError at init naming the variable, the value and what was expected.
 */
export const configSpec = {
  /** Answer FAILED this long before the Lambda deadline when the work has not finished. */
  RESPONSE_MARGIN_MS: optional(integer({ min: 1_000, max: 300_000 }), 15_000),
  /** Longest pause between two DescribeNatGateways polls while a NAT gateway is deleting. */
  NAT_POLL_MAX_MS: optional(integer({ min: 100, max: 30_000 }), 1_000),
  /** How long ReleaseAddress is retried on the transient errors that follow a NAT deletion. */
  EIP_RELEASE_TIMEOUT_MS: optional(integer({ min: 1_000, max: 600_000 }), 60_000),
  /**
   * Value of the `netkit:reapable` tag every resource of a plan must carry; the template passes its
   * ReapableTagValue parameter, the same value its IAM conditions require.
   */
  REAPABLE_TAG_VALUE: optional(
    string({
      pattern: /^[A-Za-z0-9 _.:/=+@-]{1,256}$/,
      description: 'a tag value: 1-256 of letters, digits, spaces and _ . : / = + @ -',
    }),
    'true',
  ),
};

export type Config = ConfigOf<typeof configSpec>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseConfig(configSpec, env);
}
