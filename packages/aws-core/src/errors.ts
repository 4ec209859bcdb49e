/**
 * Typed errors shared by every package. Classes end in `Error` and set `name`,
 * so logs and tests match on the class, never on message text.
 */
export class NetkitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in the environment configuration. */
export interface ConfigIssue {
  variable: string;
  value: string | undefined;
  expected: string;
}

/** Invalid or missing configuration; thrown at start, before any AWS call. */
export class ConfigError extends NetkitError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(
      `Invalid configuration: ${issues
        .map(
          (i) =>
            `${i.variable}=${i.value === undefined ? '(unset)' : JSON.stringify(i.value)}: expected ${i.expected}`,
        )
        .join('; ')}`,
    );
    this.issues = issues;
  }
}

/**
 * An event or request that can never succeed (wrong source, missing field).
 * Handlers log it and return instead of throwing, so it is not retried forever.
 */
export class InvalidEventError extends NetkitError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

/** Invalid input of another kind, e.g. custom resource properties. */
export class ValidationError extends NetkitError {}

/** Work did not finish before its deadline (Lambda time left or a configured timeout). */
export class DeadlineExceededError extends NetkitError {}

/** The name of an AWS SDK v3 service exception (or any error), e.g. `RequestLimitExceeded`. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const candidate of [e.name, e.Code, e.code]) {
    if (typeof candidate === 'string' && candidate !== 'Error' && candidate.length > 0) return candidate;
  }
  return undefined;
}

/** True when the error is an AWS error with one of `names`. */
export function isAwsError(error: unknown, ...names: string[]): boolean {
  const name = awsErrorName(error);
  return name !== undefined && names.includes(name);
}

/** True for a `<Resource>.NotFound` style error (`InvalidNatGatewayID.NotFound`, `InvalidRouteTableID.NotFound`, ...). */
export function isNotFoundError(error: unknown): boolean {
  const name = awsErrorName(error);
  return name !== undefined && (name.endsWith('.NotFound') || name.endsWith('NotFoundException'));
}

const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'EC2ThrottledException',
]);

/** Throttling as EC2, Auto Scaling ("Rate exceeded"), ECS and CloudFormation report it. */
export function isThrottlingError(error: unknown): boolean {
  const name = awsErrorName(error);
  if (name !== undefined && THROTTLING.has(name)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return status === 429;
}

/** A short, loggable description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const name = awsErrorName(error) ?? error.name;
    return error.message ? `${name}: ${error.message}` : name;
  }
  return String(error);
}
