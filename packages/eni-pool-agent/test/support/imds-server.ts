// An IMDSv2 stand-in: a session token is required (401 without), like EC2 with
// HttpTokens=required. Serves identity, placement and instance tags.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ImdsFixtureOptions {
  instanceId: string;
  availabilityZone: string;
  region?: string;
  tags?: Record<string, string>;
}

export interface ImdsFixture {
  /** http://127.0.0.1:PORT, for AWS_EC2_METADATA_SERVICE_ENDPOINT. */
  endpoint: string;
  /** Instance tags; change them while the fixture runs. */
  tags: Record<string, string>;
  /** Every request: method, path and whether it carried a valid token. */
  requests: { method: string; path: string; authorized: boolean }[];
  close(): Promise<void>;
}

export async function startImdsFixture(options: ImdsFixtureOptions): Promise<ImdsFixture> {
  const tokens = new Set<string>();
  const tags = { ...(options.tags ?? {}) };
  const requests: ImdsFixture['requests'] = [];
  const region = options.region ?? options.availabilityZone.replace(/[a-z]$/, '');
  const answer = (res: ServerResponse, status: number, body = '') => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://imds').pathname;
    const token = req.headers['x-aws-ec2-metadata-token'];
    const authorized = typeof token === 'string' && tokens.has(token);
    requests.push({ method: req.method ?? '', path, authorized });
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return answer(res, 405);
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return answer(res, 400);
      const issued = randomUUID();
      tokens.add(issued);
      return answer(res, 200, issued);
    }
    if (req.method !== 'GET') return answer(res, 405);
    if (!authorized) return answer(res, 401);
    const prefix = '/latest/meta-data/';
    if (!path.startsWith(prefix)) return answer(res, 404);
    const key = path.slice(prefix.length);
    const values: Record<string, string> = {
      'instance-id': options.instanceId,
      'placement/availability-zone': options.availabilityZone,
      'placement/region': region,
      'tags/instance': Object.keys(tags).join('\n'),
    };
    if (key.startsWith('tags/instance/')) {
      const value = tags[decodeURIComponent(key.slice('tags/instance/'.length))];
      return value === undefined ? answer(res, 404) : answer(res, 200, value);
    }
    const value = values[key];
    return value === undefined ? answer(res, 404) : answer(res, 200, value);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    tags,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
