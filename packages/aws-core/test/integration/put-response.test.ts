import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putResponse } from '../../src/custom-resource.ts';

describe('putResponse', () => {
  const received: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.statusCode = status;
      res.end();
    });
  });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('PUTs the body with an empty Content-Type to the presigned URL, query string intact', async () => {
    await putResponse(`${base}/bucket/key?X-Amz-Signature=abc&x=1`, '{"Status":"SUCCESS"}');
    expect(received.at(-1)).toMatchObject({
      method: 'PUT',
      url: '/bucket/key?X-Amz-Signature=abc&x=1',
      body: '{"Status":"SUCCESS"}',
    });
    expect(received.at(-1)?.headers['content-type']).toBe('');
    expect(received.at(-1)?.headers['content-length']).toBe('20');
  });

  it('rejects on a non-2xx answer so the runner can retry', async () => {
    status = 403;
    await expect(putResponse(`${base}/x`, '{}')).rejects.toThrow('HTTP 403');
    await expect(putResponse(`${base}/x`, '{}')).rejects.toMatchObject({ statusCode: 403 });
    status = 200;
  });
});
