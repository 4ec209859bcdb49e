/** The base of every package error: `name` is the class name, so logs and tests match on the class. */
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
          (i) => `${i.variable}=${i.value === undefined ? '(unset)' : echo(i.value)}: expected ${i.expected}`,
        )
        .join('; ')}`,
    );
    this.issues = issues;
  }
}

/** An event that can never succeed: handlers log it and return instead of throwing (ADR 0004). */
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

/** A concurrent delivery won a claim but Describe does not show its work yet: transient, never ABANDON. */
export class RaceUnsettledError extends NetkitError {}

/** A configuration value a field parser refuses; the message says what was expected. */
export class InvalidValueError extends NetkitError {}

/** The response URL answered an error status (`statusCode`), or could not be reached in time. */
export class ResponseUrlError extends NetkitError {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** The lifecycle action ended while this invocation worked on it: final, never retried (ADR 0040). */
export class LifecycleActionEndedError extends NetkitError {
  readonly instanceId: string;
  constructor(action: { instanceId: string; hookName: string }, options?: ErrorOptions) {
    super(
      `The lifecycle action of ${action.instanceId} (hook ${action.hookName}) is no longer active (timed out or completed elsewhere)`,
      options,
    );
    this.instanceId = action.instanceId;
  }
}

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

/** Longest part of an input value quoted back in an error message or log line. */
const ECHO_MAX_CHARS = 80;

/** Characters a reader cannot see or that reorder the text around them: Cc, Cf, U+2028, U+2029. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `text` with every hidden character written as its escape (`\u200B`, `\u{E0041}`), so a reader sees it. */
function visible(text: string): string {
  return text.replace(HIDDEN, (c) => {
    const code = (c.codePointAt(0) as number).toString(16).toUpperCase();
    return code.length <= 4 ? `\\u${code.padStart(4, '0')}` : `\\u{${code}}`;
  });
}

/** An input value quoted for a message or log line: JSON-quoted, `visible`, cut to about `max` characters. */
export function echo(value: unknown, max: number = ECHO_MAX_CHARS): string {
  if (value === undefined) return 'undefined';
  let text: string;
  let length: number;
  if (typeof value === 'string') {
    text = visible(JSON.stringify(value.slice(0, max)));
    length = value.length;
  } else {
    try {
      text = visible(JSON.stringify(value) ?? String(value));
    } catch {
      text = Object.prototype.toString.call(value);
    }
    length = text.length;
  }
  // Escapes can make the quoted text several times longer than `max`: bound that too.
  const cut =
    text.length > max + 2 ? `${text.slice(0, max + 1)}${typeof value === 'string' ? '"' : ''}` : text;
  return cut === text && length <= max ? text : `${cut}... (${length} characters)`;
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** A server-side fault (HTTP 5xx): the request may succeed when repeated. */
export function isServerFault(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { $fault?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500 && status <= 599;
}

/** A network-level failure (connection reset or refused, socket timeout): no AWS answer at all. */
function isNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; name?: unknown; errno?: unknown; $metadata?: unknown };
  for (const candidate of [e.code, e.name]) {
    if (typeof candidate === 'string' && NETWORK_ERROR_CODES.has(candidate)) return true;
  }
  return false;
}

/** Worth another try of the same request within a deadline: throttling, a 5xx or a network error. */
export function isTransientError(error: unknown): boolean {
  return isThrottlingError(error) || isServerFault(error) || isNetworkError(error);
}

/** Longest description `describeError` returns. */
const DESCRIBE_MAX_CHARS = 500;

/** A short, loggable description of any thrown value: bounded, hidden characters escaped. */
export function describeError(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    const name = awsErrorName(error) ?? error.name;
    const message = error.message.slice(0, DESCRIBE_MAX_CHARS + 1);
    text = message ? `${name}: ${message}` : name;
  } else {
    text = String(error).slice(0, DESCRIBE_MAX_CHARS + 1);
  }
  text = visible(text);
  return text.length > DESCRIBE_MAX_CHARS ? `${text.slice(0, DESCRIBE_MAX_CHARS)}...` : text;
}
