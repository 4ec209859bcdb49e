import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { describeError, echo, InvalidEventError, ResponseUrlError } from './errors.ts';
import { type Logger, silentLogger } from './observability.ts';
import { backoffDelay, type Clock, type LambdaContextLike, systemClock } from './retry.ts';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** A CloudFormation custom resource request, as documented. */
export interface CustomResourceRequest<P = Record<string, unknown>> {
  RequestType: RequestType;
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  ResourceType: string;
  ServiceToken?: string;
  ServiceTimeout?: string | number;
  /** Present on Update and Delete. */
  PhysicalResourceId?: string;
  ResourceProperties: P & { ServiceToken?: string };
  /** Present on Update. */
  OldResourceProperties?: P & { ServiceToken?: string };
}

/** The JSON body PUT to the ResponseURL. */
export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho?: boolean;
  Data?: Record<string, unknown>;
}

export interface CustomResourceResult {
  /** Defaults to the request's id (Update, Delete) or a stable id derived from stack and logical id (Create). */
  physicalResourceId?: string;
  data?: Record<string, unknown>;
  noEcho?: boolean;
}

export interface WorkContext {
  /** Aborted when the deadline answer has been sent; long work should stop. */
  signal: AbortSignal;
  /** Time left before the runner answers FAILED on its own. */
  remainingMs(): number;
}

export type CustomResourceWork<P> = (
  request: CustomResourceRequest<P>,
  work: WorkContext,
) => Promise<CustomResourceResult | undefined>;

export interface CustomResourceHandlers<P> {
  create: CustomResourceWork<P>;
  update: CustomResourceWork<P>;
  delete: CustomResourceWork<P>;
}

export interface SendOptions {
  /** Give up on this PUT after this long. */
  timeoutMs: number;
}

/** PUTs a response body to the presigned URL. Injectable for tests. */
export type ResponseSender = (url: string, body: string, options?: SendOptions) => Promise<void>;

/** The response URL answered an error status, or could not be reached (defined with the other errors). */
export { ResponseUrlError };

/** Longest a single response PUT may take. */
export const RESPONSE_PUT_TIMEOUT_MS = 10_000;
/** Kept free between the end of the last PUT attempt and the Lambda deadline. */
export const RESPONSE_SEND_SLACK_MS = 1_000;

export interface RunnerOptions {
  logger?: Logger;
  clock?: Clock;
  send?: ResponseSender;
  /** Answer FAILED this long before the Lambda deadline if the work has not finished. Default 15 s. */
  deadlineMarginMs?: number;
}

const DEFAULT_MARGIN_MS = 15_000;

/** CloudFormation rejects a response body over 4096 bytes. */
export const MAX_RESPONSE_BYTES = 4096;
const REQUEST_TYPES: readonly string[] = ['Create', 'Update', 'Delete'];

/**
 * Longest ResponseURL accepted. CloudFormation's presigned S3 URLs are well under 2 kB (a few
 * hundred characters plus an optional session token); S3 refuses a request line and headers
 * over 8 kB, so a longer URL cannot be a working response URL.
 */
export const MAX_RESPONSE_URL_CHARS = 8192;

/** Loopback hosts: the only ones answered outside S3 (the local emulator and tests; plain http too). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The S3 endpoints of every AWS partition: `s3`, `s3.<region>`, `s3-<region>`, `s3.dualstack.<region>`
 * under the partition's DNS suffix (aws and aws-us-gov `amazonaws.com`, aws-cn `amazonaws.com.cn`,
 * aws-iso `c2s.ic.gov`, aws-iso-b `sc2s.sgov.gov`, aws-iso-e `cloud.adc-e.uk`, aws-iso-f
 * `csp.hci.ic.gov`, aws-eusc `amazonaws.eu`). Only AWS controls names under these suffixes.
 */
const S3_ENDPOINT =
  /^s3(?:[.-][a-z0-9-]+)*\.(?:amazonaws\.com|amazonaws\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|amazonaws\.eu)$/;
/**
 * CloudFormation's response bucket: "The response URL identifies a presigned S3 bucket that receives
 * responses from the custom resource provider to AWS CloudFormation" (CloudFormation User Guide,
 * "Create request for CloudFormation custom resources"); in AWS's example events (Lambda Developer
 * Guide, "Using Lambda with CloudFormation"; CloudFormation User Guide, "Lambda-backed custom
 * resources") it is `cloudformation-custom-resource-response-<region without dashes>`.
 */
const RESPONSE_BUCKET = /^cloudformation-custom-resource-response-[a-z0-9-]{1,23}$/;

/**
 * Why this https URL is not CloudFormation's response bucket: the bucket in the host
 * (virtual-hosted style) or in the first path segment (path style) on a partition's S3 endpoint,
 * default port. Anyone can own a bucket on S3, so the host alone is not enough; a look-alike host
 * (`...s3.amazonaws.com.attacker.example`), a metadata address or any other site is not S3.
 */
function responseBucketProblem(url: URL): string | undefined {
  const host = url.hostname.toLowerCase();
  const dot = host.indexOf('.');
  const virtual =
    dot > 0 && RESPONSE_BUCKET.test(host.slice(0, dot)) && S3_ENDPOINT.test(host.slice(dot + 1));
  const pathStyle = S3_ENDPOINT.test(host) && RESPONSE_BUCKET.test(url.pathname.split('/')[1] ?? '');
  if ((virtual || pathStyle) && url.port === '') return undefined;
  return `ResponseURL must be CloudFormation's presigned URL of its response bucket (cloudformation-custom-resource-response-<region> on Amazon S3), got https to ${echo(url.host, 64)}`;
}

/**
 * Why `url` is not a ResponseURL the response may be sent to, or undefined when it is: an absolute
 * `https:` URL of CloudFormation's response bucket on S3 (`responseBucketProblem`), or any URL of a
 * loopback host (the local emulator; plain `http:` too), without credentials, at most
 * MAX_RESPONSE_URL_CHARS long. The response carries resource ids and the reason; it goes nowhere
 * else. The URL itself (presigned) is never quoted back.
 */
export function responseUrlProblem(url: unknown): string | undefined {
  if (typeof url !== 'string' || url === '') return 'ResponseURL is missing';
  if (url.length > MAX_RESPONSE_URL_CHARS) {
    return `ResponseURL is ${url.length} characters; at most ${MAX_RESPONSE_URL_CHARS} are accepted`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'ResponseURL is not an absolute URL';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'ResponseURL must not carry credentials';
  const loopback = isLoopbackHost(parsed.hostname);
  if (parsed.protocol === 'https:') return loopback ? undefined : responseBucketProblem(parsed);
  if (parsed.protocol === 'http:') {
    return loopback
      ? undefined
      : `ResponseURL must use https (plain http is accepted only for a loopback host), got http to ${echo(parsed.hostname, 64)}`;
  }
  return `ResponseURL must use https, got ${echo(parsed.protocol.replace(/:$/, ''), 16)}`;
}

/**
 * The ids of a request, as CloudFormation's own limits allow them (CloudFormation User Guide,
 * "CloudFormation custom resource request and response reference", "CloudFormation quotas" and
 * "Resources" / logical ID): a stack ARN (stack names: a letter, then up to 127 letters, digits and
 * hyphens); a RequestId (a unique id, a UUID in practice); a logical id of at most 255 alphanumeric
 * characters; a custom resource type of at most 60 characters (`Custom::` and letters, digits,
 * `_@-.`); a PhysicalResourceId of at most 1 KB. A request outside them did not come from
 * CloudFormation: it is refused before any work, answered FAILED when the answer can be sent.
 */
const ENVELOPE_IDS = {
  StackId: {
    pattern:
      /^arn:aws[a-z-]{0,16}:cloudformation:[a-z0-9-]{1,32}:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[A-Za-z0-9-]{1,64}$/,
    expected: 'a stack ARN (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>)',
  },
  RequestId: {
    pattern: /^[A-Za-z0-9._:-]{1,128}$/,
    expected: 'a request id of 1-128 letters, digits and ._:-',
  },
  LogicalResourceId: {
    pattern: /^[A-Za-z0-9]{1,255}$/,
    expected: 'a logical id of 1-255 letters and digits',
  },
  ResourceType: {
    pattern: /^(?:Custom::[A-Za-z0-9_@.-]{1,52}|AWS::CloudFormation::CustomResource)$/,
    expected:
      'Custom::<name> (at most 60 characters of letters, digits and _@-.) or AWS::CloudFormation::CustomResource',
  },
} as const;

/** Longest PhysicalResourceId: "can be up to 1 KB in size" (custom resource response fields). */
export const MAX_PHYSICAL_ID_BYTES = 1024;
/** A PhysicalResourceId: printable (no control, format or separator characters), at most 1 KB. */
const PHYSICAL_ID = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

/** The first id of the envelope outside CloudFormation's limits, as an InvalidEventError. */
function envelopeIdProblem(e: Record<string, unknown>): InvalidEventError | undefined {
  for (const [field, { pattern, expected }] of Object.entries(ENVELOPE_IDS)) {
    const value = e[field] as string;
    if (!pattern.test(value)) {
      return new InvalidEventError(`${field} must be ${expected}, got ${echo(value, 64)}`, field);
    }
  }
  // CloudFormation sends a PhysicalResourceId on Update and Delete only; a Create's is not read.
  const id = e.PhysicalResourceId;
  if (
    e.RequestType !== 'Create' &&
    (typeof id !== 'string' || !PHYSICAL_ID.test(id) || Buffer.byteLength(id) > MAX_PHYSICAL_ID_BYTES)
  ) {
    return new InvalidEventError(
      `PhysicalResourceId must be printable text of at most ${MAX_PHYSICAL_ID_BYTES} bytes, got ${echo(id, 64)}`,
      'PhysicalResourceId',
    );
  }
  return undefined;
}

const REQUIRED_FIELDS = ['RequestType', 'StackId', 'RequestId', 'LogicalResourceId', 'ResourceType'] as const;

/** A stable PhysicalResourceId for a Create: the same stack and logical id always give the same id. */
export function defaultPhysicalResourceId(stackId: string, logicalResourceId: string): string {
  const digest = createHash('sha256')
    .update(`${stackId}\u0000${logicalResourceId}`)
    .digest('hex')
    .slice(0, 16);
  return `${logicalResourceId}-${digest}`.slice(0, 1024);
}

/** Validate the request's own fields (not its properties). Throws InvalidEventError naming what is wrong. */
export function parseCustomResourceRequest<P>(event: unknown): CustomResourceRequest<P> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('Custom resource request must be a JSON object');
  }
  const e = event as Record<string, unknown>;
  const urlProblem = responseUrlProblem(e.ResponseURL);
  if (urlProblem !== undefined) throw new InvalidEventError(urlProblem, 'ResponseURL');
  const missing = REQUIRED_FIELDS.filter((f) => typeof e[f] !== 'string' || e[f] === '');
  if (missing.length > 0) {
    throw new InvalidEventError(`Custom resource request is missing ${missing.join(', ')}`, missing[0]);
  }
  if (!REQUEST_TYPES.includes(e.RequestType as string)) {
    throw new InvalidEventError(
      `Unknown RequestType ${echo(e.RequestType, 32)}; expected Create, Update or Delete`,
      'RequestType',
    );
  }
  if (
    e.RequestType !== 'Create' &&
    (typeof e.PhysicalResourceId !== 'string' || e.PhysicalResourceId === '')
  ) {
    throw new InvalidEventError(
      `${e.RequestType} request is missing PhysicalResourceId`,
      'PhysicalResourceId',
    );
  }
  const idProblem = envelopeIdProblem(e);
  if (idProblem !== undefined) throw idProblem;
  if (
    e.ResourceProperties !== undefined &&
    (typeof e.ResourceProperties !== 'object' || e.ResourceProperties === null)
  ) {
    throw new InvalidEventError('ResourceProperties must be an object', 'ResourceProperties');
  }
  return {
    ...(e as unknown as CustomResourceRequest<P>),
    ResourceProperties: (e.ResourceProperties ?? {}) as CustomResourceRequest<P>['ResourceProperties'],
  };
}

/**
 * Build the response body within 4096 bytes ("The total size of the response body can't exceed 4096
 * bytes", custom resource request and response reference): oversized Data turns the answer FAILED,
 * a long Reason is cut. Undefined when the ids alone do not fit: such an answer cannot be sent.
 */
export function buildResponseBody(response: CustomResourceResponse): string | undefined {
  const fits = (text: string) => Buffer.byteLength(text) <= MAX_RESPONSE_BYTES;
  const body = JSON.stringify(response);
  if (fits(body)) return body;
  if (response.Data !== undefined) {
    const size = Buffer.byteLength(JSON.stringify(response.Data));
    return buildResponseBody({
      ...response,
      Status: 'FAILED',
      Data: undefined,
      Reason:
        `Response Data is ${size} bytes; a custom resource response must fit in ${MAX_RESPONSE_BYTES} bytes. ${response.Reason ?? ''}`.trim(),
    });
  }
  const reason = response.Reason ?? '';
  const marker = '[truncated]';
  // Reason can hold multi-byte characters: cut until it fits, down to the marker alone.
  for (let keep = reason.length - (Buffer.byteLength(body) - MAX_RESPONSE_BYTES); ; keep -= 16) {
    const cut = keep > 0 ? `${reason.slice(0, keep)} ${marker}` : marker;
    const text = JSON.stringify({ ...response, Reason: cut });
    if (fits(text)) return text;
    if (keep <= 0) return undefined;
  }
}

/** Default sender: HTTP(S) PUT with an empty Content-Type, as the presigned URL expects. */
export const putResponse: ResponseSender = (url, body, options = { timeoutMs: RESPONSE_PUT_TIMEOUT_MS }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: options.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) resolve();
          else reject(new ResponseUrlError(`Response URL answered HTTP ${res.statusCode}`, res.statusCode));
        });
      },
    );
    request.on('timeout', () => request.destroy(new ResponseUrlError('Response URL timed out')));
    request.on('error', reject);
    request.end(body);
  });

/** A 4xx from the response URL (expired or invalid presigned URL): another attempt cannot succeed. */
function isClientError(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Up to 4 PUT attempts, all within `budgetMs` (each attempt's timeout is cut to the time left, and
 * no back-off pause outlasts it); a 4xx is final.
 */
async function sendWithRetry(
  send: ResponseSender,
  url: string,
  body: string,
  clock: Clock,
  logger: Logger,
  budgetMs: number,
) {
  const attempts = 4;
  const until = clock.now() + budgetMs;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const left = until - clock.now();
    if (left <= 0) throw new ResponseUrlError('No time left to send the response before the Lambda deadline');
    try {
      await send(url, body, { timeoutMs: Math.min(RESPONSE_PUT_TIMEOUT_MS, left) });
      return;
    } catch (error) {
      logger.warn('Sending the custom resource response failed', {
        attempt: attempt + 1,
        error: describeError(error),
      });
      if (isClientError(error) || attempt === attempts - 1) throw error;
      const pause = backoffDelay(attempt, { baseMs: 500, maxMs: 4_000 });
      if (clock.now() + pause >= until) throw error;
      await clock.sleep(pause);
    }
  }
}

const TIMED_OUT = Symbol('timed-out');

/** What one invocation of the runner works with, resolved from the options once. */
interface Run {
  context: LambdaContextLike;
  logger: Logger;
  clock: Clock;
  send: ResponseSender;
  marginMs: number;
}

/**
 * Answer a CloudFormation custom resource request exactly once: SUCCESS with
 * the work's result, FAILED with the reason when the work throws, and FAILED
 * shortly before the Lambda deadline when the work has not finished. Never
 * throws after answering, so Lambda's async retries cannot answer twice.
 * Returns the response sent, or undefined when the request had no usable
 * ResponseURL (nothing can be answered; the error is logged).
 */
export async function runCustomResource<P>(
  event: unknown,
  context: LambdaContextLike,
  handlers: CustomResourceHandlers<P>,
  options: RunnerOptions = {},
): Promise<CustomResourceResponse | undefined> {
  const run: Run = {
    context,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    send: options.send ?? putResponse,
    marginMs: options.deadlineMarginMs ?? DEFAULT_MARGIN_MS,
  };
  let request: CustomResourceRequest<P>;
  try {
    request = parseCustomResourceRequest<P>(event);
  } catch (error) {
    const raw = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
    const response = malformedRequestResponse(raw, error, run.logger);
    return response && deliver(run, response, raw.ResponseURL as string);
  }
  return deliver(run, await doWork(request, handlers, run), request.ResponseURL);
}

/**
 * The FAILED answer to a request that did not parse, or undefined when it has no usable ResponseURL
 * (then nothing may be sent; CloudFormation times the resource out, ServiceTimeout at most an hour).
 */
function malformedRequestResponse(
  raw: Record<string, unknown>,
  error: unknown,
  logger: Logger,
): CustomResourceResponse | undefined {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const urlProblem = responseUrlProblem(raw.ResponseURL);
  if (urlProblem !== undefined) {
    logger.error('Custom resource request without a usable ResponseURL; nothing can be answered', {
      error: urlProblem,
      requestType: echo(raw.RequestType, 16),
      logicalResourceId: echo(raw.LogicalResourceId, 64),
    });
    return undefined;
  }
  return {
    Status: 'FAILED',
    Reason: `Malformed request: ${(error as Error).message}`,
    PhysicalResourceId:
      str(raw.PhysicalResourceId) ||
      defaultPhysicalResourceId(
        str(raw.StackId) || 'unknown-stack',
        str(raw.LogicalResourceId) || 'InvalidRequest',
      ),
    StackId: str(raw.StackId),
    RequestId: str(raw.RequestId),
    LogicalResourceId: str(raw.LogicalResourceId),
  };
}

/** Runs the request's work against the deadline and turns its result, error or timeout into the response. */
async function doWork<P>(
  request: CustomResourceRequest<P>,
  handlers: CustomResourceHandlers<P>,
  { context, logger, clock, marginMs }: Run,
): Promise<CustomResourceResponse> {
  const physicalResourceId =
    request.RequestType === 'Create'
      ? defaultPhysicalResourceId(request.StackId, request.LogicalResourceId)
      : (request.PhysicalResourceId as string);
  const base = {
    PhysicalResourceId: physicalResourceId,
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
  };
  const deadlineAt = clock.now() + Math.max(0, context.getRemainingTimeInMillis() - marginMs);
  const abort = new AbortController();
  const work: WorkContext = {
    signal: abort.signal,
    remainingMs: () => Math.max(0, deadlineAt - clock.now()),
  };
  const handler =
    request.RequestType === 'Create'
      ? handlers.create
      : request.RequestType === 'Update'
        ? handlers.update
        : handlers.delete;

  logger.info('Custom resource request', {
    requestType: request.RequestType,
    logicalResourceId: request.LogicalResourceId,
    physicalResourceId,
  });
  const timer = new AbortController();
  try {
    const outcome = await Promise.race([
      handler(request, work),
      clock.sleep(work.remainingMs(), timer.signal).then(() => TIMED_OUT),
    ]);
    if (outcome === TIMED_OUT) {
      abort.abort();
      const reason = `${request.RequestType} did not finish before the Lambda deadline; see CloudWatch Logs for request ${request.RequestId}`;
      return { ...base, Status: 'FAILED', Reason: reason };
    }
    return successResponse(base, (outcome ?? {}) as CustomResourceResult);
  } catch (error) {
    logger.error('Custom resource work failed', {
      requestType: request.RequestType,
      error: describeError(error),
    });
    return { ...base, Status: 'FAILED', Reason: describeError(error) };
  } finally {
    timer.abort();
  }
}

function successResponse(
  base: Omit<CustomResourceResponse, 'Status'>,
  result: CustomResourceResult,
): CustomResourceResponse {
  const response: CustomResourceResponse = {
    ...base,
    Status: 'SUCCESS',
    PhysicalResourceId: result.physicalResourceId || base.PhysicalResourceId,
  };
  if (result.data !== undefined) response.Data = result.data;
  if (result.noEcho !== undefined) response.NoEcho = result.noEcho;
  return response;
}

/** Send the (size-capped) body once; returns what was actually sent. */
async function deliver(
  { context, logger, clock, send, marginMs }: Run,
  body: CustomResourceResponse,
  url: string,
): Promise<CustomResourceResponse | undefined> {
  const text = buildResponseBody(body);
  if (text === undefined) {
    // Only ids outside CloudFormation's limits make an answer this long: nothing is sent.
    logger.error('The custom resource response cannot fit in 4096 bytes; nothing is sent', {
      status: body.Status,
      reason: echo(body.Reason, 400),
      stackId: echo(body.StackId),
      requestId: echo(body.RequestId),
      logicalResourceId: echo(body.LogicalResourceId),
      physicalResourceId: echo(body.PhysicalResourceId),
    });
    return undefined;
  }
  const sent = JSON.parse(text) as CustomResourceResponse;
  // Sending never takes longer than the margin, and always ends before the Lambda deadline.
  const budget = Math.min(context.getRemainingTimeInMillis(), marginMs) - RESPONSE_SEND_SLACK_MS;
  try {
    await sendWithRetry(send, url, text, clock, logger, budget);
    logger.info('Answered CloudFormation', {
      status: sent.Status,
      physicalResourceId: echo(sent.PhysicalResourceId, 128),
    });
  } catch (error) {
    logger.error('Could not deliver the custom resource response', { error: describeError(error) });
  }
  return sent;
}
