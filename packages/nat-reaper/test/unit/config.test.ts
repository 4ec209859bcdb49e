import { ConfigError } from '@netkit/aws-core/errors';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has a default for every variable', () => {
    expect(loadConfig({})).toEqual({
      deadlineMarginMs: 15_000,
      natPollMaxMs: 1_000,
      eipReleaseTimeoutMs: 60_000,
      reapableTagValue: 'true',
    });
  });

  it('reads the variables', () => {
    expect(
      loadConfig({
        RESPONSE_MARGIN_MS: '20000',
        NAT_POLL_MAX_MS: '500',
        EIP_RELEASE_TIMEOUT_MS: '30000',
        REAPABLE_TAG_VALUE: 'bootstrap-2026',
      }),
    ).toEqual({
      deadlineMarginMs: 20_000,
      natPollMaxMs: 500,
      eipReleaseTimeoutMs: 30_000,
      reapableTagValue: 'bootstrap-2026',
    });
  });

  it('refuses a REAPABLE_TAG_VALUE no EC2 tag can hold', () => {
    expect(() => loadConfig({ REAPABLE_TAG_VALUE: 'a'.repeat(257) })).toThrow(/REAPABLE_TAG_VALUE=/);
    expect(() => loadConfig({ REAPABLE_TAG_VALUE: 'x\u0000y' })).toThrow(ConfigError);
  });

  it('fails at init naming the variable, the value and what was expected', () => {
    expect(() => loadConfig({ NAT_POLL_MAX_MS: '5', RESPONSE_MARGIN_MS: 'soon' })).toThrow(ConfigError);
    expect(() => loadConfig({ NAT_POLL_MAX_MS: '5' })).toThrow(
      'Invalid configuration: NAT_POLL_MAX_MS="5": expected an integer from 100 to 30000',
    );
  });
});
