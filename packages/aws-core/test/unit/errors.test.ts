import { describe, expect, it } from 'vitest';
import {
  awsErrorName,
  ConfigError,
  DeadlineExceededError,
  describeError,
  InvalidEventError,
  isAwsError,
  isNotFoundError,
  isThrottlingError,
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
