import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  type CustomResourceRequest,
  defaultPhysicalResourceId,
  parseCustomResourceRequest,
  responseUrlProblem,
} from './custom-resource-request.ts';
import { describeError, echo, ResponseUrlError } from './errors.ts';
import { type Logger, silentLogger } from './observability.ts';
import { backoffDelay, type Clock, type LambdaContextLike, systemClock } from './retry.ts';

export {
  type CustomResourceRequest,
  defaultPhysicalResourceId,
  MAX_RESPONSE_URL_CHARS,
} from './custom-resource-request.ts';

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

interface CustomResourceResult {
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

type CustomResourceWork<P> = (
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

/** Longest a single response PUT may take. */
export const RESPONSE_PUT_TIMEOUT_MS = 10_000;
/** Kept free between the end of the last PUT attempt and the Lambda deadline. */
const RESPONSE_SEND_SLACK_MS = 1_000;
/** CloudFormation rejects a response body over 4096 bytes. */
export const MAX_RESPONSE_BYTES = 4096;

interface RunnerOptions {
  logger?: Logger;
  clock?: Clock;
  send?: ResponseSender;
  /** Answer FAILED this long before the Lambda deadline if the work has not finished. Default 15 s. */
  deadlineMarginMs?: number;
}

/**
 * The body within 4096 bytes: oversized Data turns the answer FAILED, a long Reason is cut.
 * Undefined when the ids alone do not fit: such an answer cannot be sent.
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

/** A 4xx means an expired or invalid presigned URL: another attempt cannot succeed. */
function isClientError(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Up to 4 PUT attempts, all (timeouts and pauses) within `budgetMs`; a 4xx is final. */
async function sendWithRetry(run: Run, url: string, body: string, budgetMs: number) {
  const { send, clock, logger } = run;
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
 * Answer a CloudFormation custom resource request exactly once: SUCCESS with the work's result,
 * FAILED when the work throws or has not finished shortly before the Lambda deadline. Never throws
 * after answering, so Lambda's retries cannot answer twice. Returns the response sent, or undefined
 * when the request had no usable ResponseURL.
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
    marginMs: options.deadlineMarginMs ?? 15_000,
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

/** FAILED for a request that did not parse; undefined without a usable ResponseURL (nothing may be sent). */
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
  const { RequestType: type, StackId, RequestId, LogicalResourceId } = request;
  const physicalResourceId =
    type === 'Create'
      ? defaultPhysicalResourceId(StackId, LogicalResourceId)
      : (request.PhysicalResourceId as string);
  const base = { PhysicalResourceId: physicalResourceId, StackId, RequestId, LogicalResourceId };
  const deadlineAt = clock.now() + Math.max(0, context.getRemainingTimeInMillis() - marginMs);
  const abort = new AbortController();
  const work: WorkContext = {
    signal: abort.signal,
    remainingMs: () => Math.max(0, deadlineAt - clock.now()),
  };
  const handler = type === 'Create' ? handlers.create : type === 'Update' ? handlers.update : handlers.delete;
  logger.info('Custom resource request', {
    requestType: type,
    logicalResourceId: LogicalResourceId,
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
      const reason = `${type} did not finish before the Lambda deadline; see CloudWatch Logs for request ${RequestId}`;
      return { ...base, Status: 'FAILED', Reason: reason };
    }
    const result = (outcome ?? {}) as CustomResourceResult;
    return {
      ...base,
      Status: 'SUCCESS',
      PhysicalResourceId: result.physicalResourceId || physicalResourceId,
      Data: result.data,
      NoEcho: result.noEcho,
    };
  } catch (error) {
    logger.error('Custom resource work failed', { requestType: type, error: describeError(error) });
    return { ...base, Status: 'FAILED', Reason: describeError(error) };
  } finally {
    timer.abort();
  }
}

/** Send the (size-capped) body once; returns what was actually sent. */
async function deliver(
  run: Run,
  body: CustomResourceResponse,
  url: string,
): Promise<CustomResourceResponse | undefined> {
  const text = buildResponseBody(body);
  if (text === undefined) {
    // Only ids outside CloudFormation's limits make an answer this long: nothing is sent.
    run.logger.error('The custom resource response cannot fit in 4096 bytes; nothing is sent', {
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
  const budget = Math.min(run.context.getRemainingTimeInMillis(), run.marginMs) - RESPONSE_SEND_SLACK_MS;
  try {
    await sendWithRetry(run, url, text, budget);
    run.logger.info('Answered CloudFormation', {
      status: sent.Status,
      physicalResourceId: echo(sent.PhysicalResourceId, 128),
    });
  } catch (error) {
    run.logger.error('Could not deliver the custom resource response', { error: describeError(error) });
  }
  return sent;
}
