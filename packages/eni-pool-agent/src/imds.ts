import { ImdsUnreachableError } from './errors.ts';

interface ImdsOptions {
  endpoint?: string;
  /** IMDS answers in milliseconds; a timeout means no IMDS or a hop limit too low. */
  timeoutMs?: number;
  /** Tries per request on network errors. */
  attempts?: number;
  env?: Record<string, string | undefined>;
}

/** IMDSv2 only: a session token from PUT /latest/api/token on every GET; never IMDSv1. */
export class Imds {
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private token: string | undefined;

  constructor({ env = process.env, endpoint, timeoutMs = 2_000, attempts = 3 }: ImdsOptions = {}) {
    endpoint ??= env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? 'http://169.254.169.254';
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.timeoutMs = timeoutMs;
    this.attempts = attempts;
  }

  private async request(method: 'GET' | 'PUT', path: string, headers: Record<string, string>) {
    let last: unknown;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      try {
        return await fetch(`${this.endpoint}${path}`, {
          method,
          headers,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        last = error;
      }
    }
    const cause = last instanceof Error && last.cause instanceof Error ? last.cause : last;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ImdsUnreachableError(
      `Cannot reach the instance metadata service at ${this.endpoint} (${reason}); is this an EC2 instance with IMDS enabled and a hop limit that reaches this process?`,
    );
  }

  private async session(refresh = false): Promise<string> {
    if (this.token !== undefined && !refresh) return this.token;
    const response = await this.request('PUT', '/latest/api/token', {
      // The agent runs for minutes at most.
      'X-aws-ec2-metadata-token-ttl-seconds': '300',
    });
    const body = await response.text();
    if (response.status !== 200 || body === '')
      throw new ImdsUnreachableError(
        `The instance metadata service at ${this.endpoint} refused an IMDSv2 session token (HTTP ${response.status})`,
      );
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
      if (response.status !== 401)
        throw new ImdsUnreachableError(`Instance metadata ${path} answered HTTP ${response.status}`);
      // 401: the token expired; get a new one once.
    }
    throw new ImdsUnreachableError(`Instance metadata ${path} keeps refusing the session token (HTTP 401)`);
  }

  private async require(path: string): Promise<string> {
    const value = await this.get(path);
    if (value === undefined || value === '')
      throw new ImdsUnreachableError(`Instance metadata ${path} is missing at ${this.endpoint}`);
    return value;
  }

  async identity(): Promise<{ instanceId: string; region: string; availabilityZone: string }> {
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
