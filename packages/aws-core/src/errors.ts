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
          (i) => `${i.variable}=${i.value === undefined ? '(unset)' : echo(i.value)}: expected ${i.expected}`,
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

/**
 * A claim was refused because a concurrent delivery of the same event won it (at-least-once
 * delivery: EventBridge and Lambda's asynchronous queue may run one event twice at once), but
 * EC2's eventually consistent Describe calls do not show the winner's work yet. Transient, never
 * a reason to ABANDON: the invocation fails, the event is redelivered, the retry finds the work.
 */
export class RaceUnsettledError extends NetkitError {}

/** Thrown by a field parser: what was expected. */
export class Invalid extends Error {}

/** The response URL answered an error status (`statusCode`), or could not be reached in time. */
export class ResponseUrlError extends NetkitError {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/**
 * The lifecycle action ended while this invocation was still working on it: a heartbeat (or the
 * completion) was answered "No active Lifecycle Action found". The hook timed out (its
 * DefaultResult applied), or another delivery completed or abandoned it. Final: retrying the
 * event cannot make the action live again, so handlers stop, undo what the instance will not
 * own, and return a non-retried outcome (metric `LIFECYCLE_ACTION_ENDED_METRIC`).
 */
export class LifecycleActionEndedError extends NetkitError {
  readonly instanceId: string;
  constructor(action: { instanceId: string; hookName: string }, options?: ErrorOptions) {
    super(
      `The lifecycle action of ${action.instanceId} (hook ${action.hookName}) is no longer active: the hook timed out (its DefaultResult applied) or another delivery completed it`,
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
export const ECHO_MAX_CHARS = 80;

/**
 * Characters a reader cannot see, or that change how the text around them reads: controls (Cc),
 * format characters (Cf: zero-width spaces and joiners, bidirectional embeddings, overrides and
 * isolates such as U+202E, the byte order mark, tag characters) and the line and paragraph
 * separators U+2028 and U+2029.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `text` with every hidden character written as its escape (`\u200B`, `\u{E0041}`), so a reader sees it. */
export function visible(text: string): string {
  return text.replace(HIDDEN, (c) => {
    const code = (c.codePointAt(0) as number).toString(16).toUpperCase();
    return code.length <= 4 ? `\\u${code.padStart(4, '0')}` : `\\u{${code}}`;
  });
}

/**
 * An input value quoted for an error message or a log line, bounded and honest: JSON-quoted, with
 * every invisible or bidirectional character escaped (`visible`), and cut to about `max` characters
 * with the full length noted, so a megabyte-long or deceptive bad value can neither blow up a reason,
 * a CloudWatch line or a CloudFormation response nor hide what it holds.
 */
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
export function isNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; name?: unknown; errno?: unknown; $metadata?: unknown };
  for (const candidate of [e.code, e.name]) {
    if (typeof candidate === 'string' && NETWORK_ERROR_CODES.has(candidate)) return true;
  }
  return false;
}

/**
 * Worth another try of the very same request: throttling, a server fault (5xx) or a network
 * error. The SDK's own retries give up within about a second; callers with a deadline retry
 * these again within it (`retry(fn, { retryable: isTransientError, deadline })`).
 */
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
