import { createHash } from 'node:crypto';
import { echo, InvalidEventError } from './errors.ts';

type RequestType = 'Create' | 'Update' | 'Delete';

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

const REQUEST_TYPES: readonly string[] = ['Create', 'Update', 'Delete'];
const REQUIRED_FIELDS = ['RequestType', 'StackId', 'RequestId', 'LogicalResourceId', 'ResourceType'] as const;

/** S3 refuses a request line over 8 kB, so no working ResponseURL is longer (ADR 0050). */
export const MAX_RESPONSE_URL_CHARS = 8192;

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The S3 endpoints of every AWS partition (aws, aws-cn, aws-us-gov, the iso partitions, aws-eusc). */
const S3_ENDPOINT =
  /^s3(?:[.-][a-z0-9-]+)*\.(?:amazonaws\.com|amazonaws\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|amazonaws\.eu)$/;
/** CloudFormation's response bucket, as in AWS's example events (ADR 0050). */
const RESPONSE_BUCKET = /^cloudformation-custom-resource-response-[a-z0-9-]{1,23}$/;

/** Anyone can own a bucket on S3: the bucket name must match too, virtual-hosted or path style. */
function responseBucketProblem(url: URL): string | undefined {
  const host = url.hostname.toLowerCase();
  const dot = host.indexOf('.');
  const virtual =
    dot > 0 && RESPONSE_BUCKET.test(host.slice(0, dot)) && S3_ENDPOINT.test(host.slice(dot + 1));
  const pathStyle = S3_ENDPOINT.test(host) && RESPONSE_BUCKET.test(url.pathname.split('/')[1] ?? '');
  if ((virtual || pathStyle) && url.port === '') return undefined;
  return `ResponseURL must be CloudFormation's response bucket on Amazon S3, got https to ${echo(url.host, 64)}`;
}

/**
 * Why `url` may not receive the response (undefined when it may): CloudFormation's response bucket
 * over https, or a loopback host. The presigned URL itself is never quoted back.
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
      : `ResponseURL must use https (http only for a loopback host), got http to ${echo(parsed.hostname, 64)}`;
  }
  return `ResponseURL must use https, got ${echo(parsed.protocol.replace(/:$/, ''), 16)}`;
}

/** The ids within CloudFormation's own limits; a request outside them did not come from it (ADR 0088). */
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

/** "can be up to 1 KB in size" (custom resource response fields). */
const MAX_PHYSICAL_ID_BYTES = 1024;
const PHYSICAL_ID = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

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
  const properties = e.ResourceProperties;
  if (properties !== undefined && (typeof properties !== 'object' || properties === null)) {
    throw new InvalidEventError('ResourceProperties must be an object', 'ResourceProperties');
  }
  return { ...e, ResourceProperties: properties ?? {} } as CustomResourceRequest<P>;
}
