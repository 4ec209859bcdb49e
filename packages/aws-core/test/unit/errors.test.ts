import { describe, expect, it } from 'vitest';
import {
  awsErrorName,
  ConfigError,
  DeadlineExceededError,
  describeError,
  echo,
  InvalidEventError,
  isAwsError,
  isNotFoundError,
  isThrottlingError,
  isTransientError,
  NetkitError,
} from '../../src/errors.ts';

const awsError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

describe('errors', () => {
  it('sets name to the class name', () => {
    expect(new InvalidEventError('x', 'detail.a').name).toBe('InvalidEventError');
    expect(new DeadlineExceededError('x')).toBeInstanceOf(NetkitError);
    expect(new ConfigError([{ variable: 'A', value: undefined, expected: 'x' }]).name).toBe('ConfigError');
  });

  it('reads the AWS error name from name or Code', () => {
    expect(awsErrorName(awsError('RequestLimitExceeded'))).toBe('RequestLimitExceeded');
    expect(awsErrorName({ Code: 'Throttling' })).toBe('Throttling');
    expect(awsErrorName(new Error('plain'))).toBeUndefined();
    expect(awsErrorName('text')).toBeUndefined();
    expect(awsErrorName(null)).toBeUndefined();
  });

  it('matches AWS errors by name, never by message', () => {
    expect(isAwsError(awsError('InvalidNetworkInterface.InUse'), 'InvalidNetworkInterface.InUse')).toBe(true);
    expect(isAwsError(new Error('InvalidNetworkInterface.InUse'), 'InvalidNetworkInterface.InUse')).toBe(
      false,
    );
  });

  it('classifies throttling', () => {
    expect(isThrottlingError(awsError('RequestLimitExceeded', 503))).toBe(true);
    expect(isThrottlingError(awsError('Throttling'))).toBe(true);
    expect(isThrottlingError(awsError('Whatever', 429))).toBe(true);
    expect(isThrottlingError(awsError('InvalidParameterValue'))).toBe(false);
    expect(isThrottlingError(undefined)).toBe(false);
  });

  it('classifies not-found errors', () => {
    expect(isNotFoundError(awsError('InvalidNatGatewayID.NotFound'))).toBe(true);
    expect(isNotFoundError(awsError('ClusterNotFoundException'))).toBe(true);
    expect(isNotFoundError(awsError('DependencyViolation'))).toBe(false);
  });

  it('describes errors for logs', () => {
    expect(describeError(awsError('DependencyViolation'))).toBe(
      'DependencyViolation: DependencyViolation happened',
    );
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
    expect(describeError(42)).toBe('42');
  });
});

describe('echo', () => {
  it('quotes short values whole and cuts long ones, noting the length', () => {
    expect(echo('abc')).toBe('"abc"');
    expect(echo('a\u0000b')).toBe('"a\\u0000b"');
    expect(echo('x'.repeat(1 << 20))).toBe(`"${'x'.repeat(80)}"... (1048576 characters)`);
    expect(echo(42)).toBe('42');
    expect(echo(undefined)).toBe('undefined');
    expect(echo(['a'.repeat(200)]).length).toBeLessThan(120);
  });

  it('escapes invisible and bidirectional characters, so a quoted value reads as what it holds', () => {
    // A zero-width space hides a difference ("asg\u200B" is not "asg"); U+202E RIGHT-TO-LEFT OVERRIDE
    // reverses the rest of a log line; U+2028 breaks a line where JSON.stringify does not escape it.
    expect(echo('asg\u200B')).toBe('"asg\\u200B"');
    expect(echo('id\u202Egpj.exe')).toBe('"id\\u202Egpj.exe"');
    expect(echo('a\u2028b\u2029c\u0085\u007F\uFEFF')).toBe('"a\\u2028b\\u2029c\\u0085\\u007F\\uFEFF"');
    expect(echo('tag\u{E0041}')).toBe('"tag\\u{E0041}"');
    expect(echo({ key: 'x\u2066y' })).toBe('{"key":"x\\u2066y"}');
    for (const hidden of ['\u200B', '\u202E', '\u2066', '\u2028', '\uFEFF']) {
      expect(echo(hidden.repeat(500)).length).toBeLessThanOrEqual(120);
      expect(echo(hidden.repeat(500))).not.toContain(hidden);
    }
  });

  it('bounds and escapes error descriptions', () => {
    expect(describeError(new Error(`bad \u202E${'x'.repeat(5_000)}`))).toMatch(
      /^Error: bad \\u202Ex+\.\.\.$/,
    );
    expect(describeError(new Error('x'.repeat(5_000))).length).toBeLessThanOrEqual(503);
    expect(describeError('\u200B')).toBe('\\u200B');
  });

  it('bounds the values a ConfigError quotes', () => {
    const error = new ConfigError([{ variable: 'X', value: 'v'.repeat(1 << 20), expected: 'short' }]);
    expect(error.message.length).toBeLessThan(200);
    expect(error.message).toContain('(1048576 characters)');
  });
});

describe('isTransientError', () => {
  it('is true for throttling, 5xx and network errors, false for client faults', () => {
    expect(isTransientError(awsError('RequestLimitExceeded'))).toBe(true);
    expect(
      isTransientError(
        Object.assign(new Error('boom'), { $fault: 'server', $metadata: { httpStatusCode: 500 } }),
      ),
    ).toBe(true);
    expect(isTransientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(
      isTransientError(
        Object.assign(new Error('no'), {
          name: 'InvalidParameterValue',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        }),
      ),
    ).toBe(false);
    expect(isTransientError(new TypeError('bug'))).toBe(false);
  });
});
