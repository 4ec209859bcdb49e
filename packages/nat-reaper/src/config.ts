import { type ConfigOf, integer, optional, parseConfig, string } from '@netkit/aws-core/config';
import { ConfigError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';

const configSpec = {
  RESPONSE_MARGIN_MS: optional(integer({ min: 1_000, max: 300_000 }), 15_000),
  NAT_POLL_MAX_MS: optional(integer({ min: 100, max: 30_000 }), 1_000),
  EIP_RELEASE_TIMEOUT_MS: optional(integer({ min: 1_000, max: 600_000 }), 60_000),
  // The template passes its ReapableTagValue parameter, the value its IAM conditions require.
  REAPABLE_TAG_VALUE: optional(
    string({
      pattern: /^[A-Za-z0-9 _.:/=+@-]{1,256}$/,
      description: 'a tag value: 1-256 of letters, digits, spaces and _ . : / = + @ -',
    }),
    'true',
  ),
};

export interface Config {
  deadlineMarginMs: number;
  natPollMaxMs: number;
  eipReleaseTimeoutMs: number;
  reapableTagValue: string;
}

/** Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: ConfigOf<typeof configSpec> = parseConfig(configSpec, env);
  return {
    deadlineMarginMs: raw.RESPONSE_MARGIN_MS,
    natPollMaxMs: raw.NAT_POLL_MAX_MS,
    eipReleaseTimeoutMs: raw.EIP_RELEASE_TIMEOUT_MS,
    reapableTagValue: raw.REAPABLE_TAG_VALUE,
  };
}

/** Logged and returned, not thrown: an unanswered custom resource blocks the stack for up to an hour. */
export function loadConfigOrError(
  env: Record<string, string | undefined>,
  logger: Pick<Logger, 'error'>,
): Config | ConfigError {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error('Invalid configuration; Create and Update will be answered FAILED', {
      error: error.message,
    });
    return error;
  }
}
