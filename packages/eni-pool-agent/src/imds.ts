import { ImdsUnreachableError } from './errors.ts';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
/** Session token lifetime asked for; the agent runs for minutes at most. */
export const TOKEN_TTL_SECONDS = 300;

export interface ImdsOptions {
  /** Default: AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254. */
  endpoint?: string;
  /** Per-request timeout. Default 2 s (IMDS answers in milliseconds; a timeout means no IMDS or hop limit). */
  timeoutMs?: number;
  /** Tries per request on network errors. Default 3. */
  attempts?: number;
  fetch?: typeof fetch;
  env?: Record<string, string | undefined>;
}

export interface Metadata {
  instanceId: string;
  region: string;
  availabilityZone: string;
}

/**
 * IMDSv2 only: PUT /latest/api/token for a session token, then GET with
 * `X-aws-ec2-metadata-token`. IMDSv1 (a GET without a token) is never used.
 */
export class Imds {
  readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly fetch: typeof fetch;
  private token: string | undefined;

  constructor(options: ImdsOptions = {}) {
    const env = options.env ?? process.env;
    this.endpoint = (
      options.endpoint ??
      env.AWS_EC2_METADATA_SERVICE_ENDPOINT ??
      DEFAULT_IMDS_ENDPOINT
    ).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.attempts = options.attempts ?? 3;
    this.fetch = options.fetch ?? fetch;
  }

  private async request(method: 'GET' | 'PUT', path: string, headers: Record<string, string>) {
    let last: unknown;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      try {
        return await this.fetch(`${this.endpoint}${path}`, {
          method,
          headers,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        last = error;
      }
    }
    const reason =
      last instanceof Error
        ? last.cause instanceof Error
          ? last.cause.message
          : last.message
        : String(last);
    throw new ImdsUnreachableError(
      `Cannot reach the instance metadata service at ${this.endpoint} (${reason}); is this an EC2 instance with IMDS enabled and a hop limit that reaches this process?`,
    );
  }

  private async session(refresh = false): Promise<string> {
    if (this.token !== undefined && !refresh) return this.token;
    const response = await this.request('PUT', '/latest/api/token', {
      'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS),
    });
    const body = await response.text();
    if (response.status !== 200 || body === '') {
      throw new ImdsUnreachableError(
        `The instance metadata service at ${this.endpoint} refused an IMDSv2 session token (HTTP ${response.status})`,
      );
    }
    this.token = body;
    return body;
  }

  /** GET /latest/meta-data/<path>; undefined when it does not exist (404). */
  async get(path: string): Promise<string | undefined> {
    for (let refresh = 0; refresh < 2; refresh++) {
      const token = await this.session(refresh > 0);
      const response = await this.request('GET', `/latest/meta-data/${path}`, {
        'X-aws-ec2-metadata-token': token,
      });
      const body = await response.text();
      if (response.status === 200) return body.trim();
      if (response.status === 404) return undefined;
      if (response.status !== 401) {
        throw new ImdsUnreachableError(`Instance metadata ${path} answered HTTP ${response.status}`);
      }
      // 401: the token expired; get a new one once.
    }
    throw new ImdsUnreachableError(`Instance metadata ${path} keeps refusing the session token (HTTP 401)`);
  }

  async require(path: string): Promise<string> {
    const value = await this.get(path);
    if (value === undefined || value === '') {
      throw new ImdsUnreachableError(`Instance metadata ${path} is missing at ${this.endpoint}`);
    }
    return value;
  }

  /** Instance id, Region and AZ of the instance this runs on. */
  async identity(): Promise<Metadata> {
    const instanceId = await this.require('instance-id');
    const availabilityZone = await this.require('placement/availability-zone');
    const region = (await this.get('placement/region')) ?? availabilityZone.replace(/[a-z]$/, '');
    return { instanceId, region, availabilityZone };
  }

  /** An instance tag (needs "instance metadata tags" enabled on the instance); undefined when absent. */
  instanceTag(key: string): Promise<string | undefined> {
    return this.get(`tags/instance/${encodeURIComponent(key)}`);
  }
}
