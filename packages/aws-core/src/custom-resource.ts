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

/** Loopback hosts, the only ones a response may be sent to over plain http (local emulator, tests). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Why `url` is not a ResponseURL the response may be sent to, or undefined when it is: it must be
 * an absolute `https:` URL (plain `http:` only to a loopback host, for the local emulator), without
 * credentials, at most MAX_RESPONSE_URL_CHARS long. The response carries resource ids and the
 * reason; it must not go to an arbitrary host in clear text. The URL itself (presigned) is never
 * quoted back.
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
  if (parsed.protocol === 'https:') return parsed.hostname === '' ? 'ResponseURL has no host' : undefined;
  if (parsed.protocol === 'http:') {
    return isLoopbackHost(parsed.hostname)
      ? undefined
      : `ResponseURL must use https (plain http is accepted only for a loopback host), got http to ${echo(parsed.hostname, 64)}`;
  }
  return `ResponseURL must use https, got ${echo(parsed.protocol.replace(/:$/, ''), 16)}`;
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

/** Build the response body, keeping it under 4096 bytes (shortening Reason; refusing oversized Data). */
export function buildResponseBody(response: CustomResourceResponse): string {
  let body = JSON.stringify(response);
  if (Buffer.byteLength(body) <= MAX_RESPONSE_BYTES) return body;
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
  const over = Buffer.byteLength(body) - MAX_RESPONSE_BYTES;
  const marker = ' [truncated]';
  // Reason can hold multi-byte characters: cut until it fits.
  let keep = Math.max(0, reason.length - over - marker.length);
  do {
    body = JSON.stringify({ ...response, Reason: reason.slice(0, keep) + marker });
    keep -= 16;
  } while (Buffer.byteLength(body) > MAX_RESPONSE_BYTES && keep > 0);
  return body;
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
): Promise<CustomResourceResponse> {
  const text = buildResponseBody(body);
  const sent = JSON.parse(text) as CustomResourceResponse;
  // Sending never takes longer than the margin, and always ends before the Lambda deadline.
  const budget = Math.min(context.getRemainingTimeInMillis(), marginMs) - RESPONSE_SEND_SLACK_MS;
  try {
    await sendWithRetry(send, url, text, clock, logger, budget);
    logger.info('Answered CloudFormation', {
      status: sent.Status,
      physicalResourceId: sent.PhysicalResourceId,
    });
  } catch (error) {
    logger.error('Could not deliver the custom resource response', { error: describeError(error) });
  }
  return sent;
}
