import { fakeContext, loadEvent, manualClock } from '@netkit/testing';
import { describe, expect, it, vi } from 'vitest';
import {
  buildResponseBody,
  type CustomResourceHandlers,
  defaultPhysicalResourceId,
  MAX_RESPONSE_BYTES,
  MAX_RESPONSE_URL_CHARS,
  RESPONSE_PUT_TIMEOUT_MS,
  runCustomResource,
  type SendOptions,
} from '../../src/custom-resource.ts';
import { responseUrlProblem } from '../../src/custom-resource-request.ts';
import { ResponseUrlError, ValidationError } from '../../src/errors.ts';

type Props = { VpcId?: string };

function recorder() {
  const sent: { url: string; body: Record<string, unknown> }[] = [];
  const send = vi.fn(async (url: string, body: string) => {
    sent.push({ url, body: JSON.parse(body) });
  });
  return { sent, send };
}

function handlers(overrides: Partial<CustomResourceHandlers<Props>> = {}): CustomResourceHandlers<Props> {
  return {
    create: vi.fn(async () => ({ data: { Removed: 'nat-1' } })),
    update: vi.fn(async () => ({ data: { Removed: '' } })),
    delete: vi.fn(async () => undefined),
    ...overrides,
  };
}

describe('runCustomResource', () => {
  it('answers a Create with SUCCESS, a stable PhysicalResourceId and the Data', async () => {
    const event = loadEvent('cloudformation/create');
    const { sent, send } = recorder();
    const h = handlers();
    const response = await runCustomResource<Props>(event, fakeContext(), h, { send });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe(event.ResponseURL);
    const expectedId = defaultPhysicalResourceId(event.StackId, event.LogicalResourceId);
    expect(sent[0]?.body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: expectedId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: 'NatReaper',
      Data: { Removed: 'nat-1' },
    });
    expect(response).toEqual(sent[0]?.body);
    expect(h.create).toHaveBeenCalledOnce();
    // The same stack and logical id always give the same id.
    expect(defaultPhysicalResourceId(event.StackId, event.LogicalResourceId)).toBe(expectedId);
    expect(defaultPhysicalResourceId(event.StackId, 'Other')).not.toBe(expectedId);
  });

  it('keeps the PhysicalResourceId of the request on Update and Delete', async () => {
    for (const name of ['cloudformation/update', 'cloudformation/delete'] as const) {
      const event = loadEvent(name);
      const { sent, send } = recorder();
      const h = handlers();
      await runCustomResource<Props>(event, fakeContext(), h, { send });
      expect(sent[0]?.body.PhysicalResourceId).toBe(event.PhysicalResourceId);
      expect(sent[0]?.body.Status).toBe('SUCCESS');
      expect(name.endsWith('update') ? h.update : h.delete).toHaveBeenCalledOnce();
      expect(h.create).not.toHaveBeenCalled();
    }
  });

  it('answers FAILED with the reason when the work throws', async () => {
    const { sent, send } = recorder();
    await runCustomResource<Props>(
      loadEvent('cloudformation/create'),
      fakeContext(),
      handlers({
        create: async () => {
          throw new ValidationError('RouteTableIds: rtb-1 belongs to vpc-2, not vpc-1');
        },
      }),
      { send },
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body.Status).toBe('FAILED');
    expect(sent[0]?.body.Reason).toBe('ValidationError: RouteTableIds: rtb-1 belongs to vpc-2, not vpc-1');
  });

  it('answers FAILED shortly before the Lambda deadline and aborts the work, exactly once', async () => {
    const clock = manualClock();
    const { sent, send } = recorder();
    let signal: AbortSignal | undefined;
    let finish: (() => void) | undefined;
    const response = await runCustomResource<Props>(
      loadEvent('cloudformation/create'),
      fakeContext(60_000, clock.now),
      handlers({
        create: (_req, work) => {
          signal = work.signal;
          expect(work.remainingMs()).toBe(45_000);
          return new Promise((resolve) => {
            finish = () => resolve({ data: { late: true } });
          });
        },
      }),
      { send, clock, deadlineMarginMs: 15_000 },
    );
    expect(response?.Status).toBe('FAILED');
    expect(response?.Reason).toMatch(/did not finish before the Lambda deadline/);
    expect(signal?.aborted).toBe(true);
    expect(clock.sleeps[0]).toBe(45_000);
    finish?.();
    await new Promise((r) => setTimeout(r, 5));
    expect(sent).toHaveLength(1);
  });

  it('answers FAILED to a malformed request that has a ResponseURL', async () => {
    const event = loadEvent('cloudformation/update');
    delete event.PhysicalResourceId;
    const { sent, send } = recorder();
    const h = handlers();
    await runCustomResource<Props>(event, fakeContext(), h, { send });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({
      Status: 'FAILED',
      Reason: 'Malformed request: Update request is missing PhysicalResourceId',
      RequestId: event.RequestId,
      StackId: event.StackId,
      LogicalResourceId: 'NatReaper',
    });
    expect(sent[0]?.body.PhysicalResourceId).toEqual(expect.any(String));
    expect(h.update).not.toHaveBeenCalled();
  });

  it.each([
    [
      'an unknown RequestType',
      (e: Record<string, unknown>) => (e.RequestType = 'Upsert'),
      /Unknown RequestType "Upsert"/,
    ],
    ['no StackId', (e: Record<string, unknown>) => delete e.StackId, /missing StackId/],
    [
      'non-object properties',
      (e: Record<string, unknown>) => (e.ResourceProperties = 'x'),
      /ResourceProperties must be an object/,
    ],
  ])('answers FAILED to a request with %s', async (_label, mutate, reason) => {
    const event = loadEvent('cloudformation/create');
    mutate(event);
    const { sent, send } = recorder();
    await runCustomResource<Props>(event, fakeContext(), handlers(), { send });
    expect(sent[0]?.body.Status).toBe('FAILED');
    expect(sent[0]?.body.Reason).toMatch(reason);
  });

  it('logs and returns without answering when there is no ResponseURL to answer', async () => {
    const event = loadEvent('cloudformation/create');
    delete event.ResponseURL;
    const { send } = recorder();
    const error = vi.fn();
    const response = await runCustomResource<Props>(event, fakeContext(), handlers(), {
      send,
      logger: { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error },
    });
    expect(response).toBeUndefined();
    expect(send).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledOnce();
  });

  it.each([
    [
      'plain http to a public host',
      'http://attacker.example/collect?x=1',
      /must use https .*attacker\.example/,
    ],
    ['plain http to a private address', 'http://10.0.0.8/r', /must use https/],
    ['another scheme', 'ftp://cloudformation.example/r', /must use https, got "ftp"/],
    ['a relative URL', '/cfn-response/x', /not an absolute URL/],
    ['credentials in the URL', 'https://user:secret@host.example/r', /must not carry credentials/],
    // Only CloudFormation's response bucket on a partition's S3 endpoint receives the answer
    // (CloudFormation User Guide, "Create request for CloudFormation custom resources": "a presigned
    // S3 bucket that receives responses").
    ['another https site', 'https://example.com/cfn?X-Amz-Signature=a', /response bucket/],
    [
      'a look-alike host',
      'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example/x',
      /response bucket/,
    ],
    ['the container credentials address', 'https://169.254.170.2/v2/credentials', /response bucket/],
    [
      'another bucket on S3',
      'https://attacker-bucket.s3.amazonaws.com/x?X-Amz-Signature=a',
      /response bucket/,
    ],
    [
      'another bucket, path style',
      'https://s3.amazonaws.com/attacker/cloudformation-custom-resource-response-useast1/x',
      /response bucket/,
    ],
    [
      'another port',
      'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/x',
      /response bucket/,
    ],
    [
      'a URL over the cap',
      `https://host.example/${'a'.repeat(MAX_RESPONSE_URL_CHARS)}`,
      new RegExp(`is ${MAX_RESPONSE_URL_CHARS + 21} characters; at most ${MAX_RESPONSE_URL_CHARS}`),
    ],
  ])('refuses %s as ResponseURL: nothing is sent, the work never runs, the URL is not logged', async (_label, url, problem) => {
    // Prepare
    const event = loadEvent('cloudformation/create');
    event.ResponseURL = url;
    const { send } = recorder();
    const h = handlers();
    const error = vi.fn();
    // Act
    const response = await runCustomResource<Props>(event, fakeContext(), h, {
      send,
      logger: { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error },
    });
    // Assess
    expect(response).toBeUndefined();
    expect(send).not.toHaveBeenCalled();
    expect(h.create).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledOnce();
    const [, fields] = error.mock.calls[0] as [string, Record<string, unknown>];
    expect(fields.error).toMatch(problem);
    expect(JSON.stringify(error.mock.calls).length).toBeLessThan(600);
    expect(JSON.stringify(error.mock.calls)).not.toContain('secret');
  });

  it.each([
    [
      'an https URL',
      'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=a',
    ],
    ['http to 127.0.0.1', 'http://127.0.0.1:40123/cfn-response/a?X-Amz-Signature=abc123'],
    ['http to localhost', 'http://localhost:5000/r'],
    ['http to [::1]', 'http://[::1]:5000/r'],
    [
      'a URL of exactly the cap',
      `https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/${'a'.repeat(MAX_RESPONSE_URL_CHARS - 73)}`,
    ],
    // The partitions' S3 endpoints (virtual-hosted and path style), as AWS's example events show the bucket.
    [
      'a regional endpoint',
      'https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com/arn%3A?X-Amz-Signature=a',
    ],
    [
      'a legacy dash-region endpoint',
      'https://cloudformation-custom-resource-response-apnortheast1.s3-ap-northeast-1.amazonaws.com/x?X-Amz-Signature=a',
    ],
    [
      'the China partition',
      'https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x?X-Amz-Signature=a',
    ],
    [
      'GovCloud',
      'https://cloudformation-custom-resource-response-usgovwest1.s3-us-gov-west-1.amazonaws.com/x?X-Amz-Signature=a',
    ],
    [
      'a path-style URL',
      'https://s3.eu-central-1.amazonaws.com/cloudformation-custom-resource-response-eucentral1/x?X-Amz-Signature=a',
    ],
    [
      'an aws-iso URL',
      'https://cloudformation-custom-resource-response-usisoeast1.s3.us-iso-east-1.c2s.ic.gov/x',
    ],
  ])('accepts %s as ResponseURL', (_label, url) => {
    expect(url.length).toBeLessThanOrEqual(MAX_RESPONSE_URL_CHARS);
    expect(responseUrlProblem(url)).toBeUndefined();
  });

  // CloudFormation's limits on the ids (custom resource request and response reference; CloudFormation
  // quotas: logical id 255 characters, stack name 128; PhysicalResourceId "up to 1 KB in size").
  it.each([
    ['a 5,000-character RequestId', 'Create', 'RequestId', 'r'.repeat(5_000)],
    ['a RequestId with a newline', 'Create', 'RequestId', '1d2e3f4a\nforged log line'],
    ['a 256-character LogicalResourceId', 'Create', 'LogicalResourceId', 'L'.repeat(256)],
    ['a LogicalResourceId with U+202E', 'Create', 'LogicalResourceId', 'Nat\u202EReaper'],
    ['a StackId that is not a stack ARN', 'Create', 'StackId', 'arn:aws:s3:::bucket'],
    [
      'a 1 MB StackId',
      'Update',
      'StackId',
      `arn:aws:cloudformation:us-east-1:123456789012:stack/s/${'x'.repeat(1 << 20)}`,
    ],
    ['a PhysicalResourceId over 1 KB', 'Delete', 'PhysicalResourceId', 'p'.repeat(1_025)],
    ['a PhysicalResourceId with a zero-width space', 'Update', 'PhysicalResourceId', 'NatReaper\u200B'],
    ['a 61-character ResourceType', 'Create', 'ResourceType', `Custom::${'T'.repeat(53)}`],
  ] as const)('refuses %s before any work: FAILED with the ids echoed when it fits, else nothing sent', async (_label, kind, field, value) => {
    // Prepare
    const event = loadEvent(`cloudformation/${kind.toLowerCase()}` as 'cloudformation/create') as Record<
      string,
      unknown
    >;
    event[field] = value;
    const { sent, send } = recorder();
    const h = handlers();
    const logged: string[] = [];
    const log = (message: string, fields?: unknown) => void logged.push(JSON.stringify([message, fields]));
    // Act
    const response = await runCustomResource<Props>(event, fakeContext(), h, {
      send,
      logger: { debug: log, info: log, warn: log, error: log },
    });
    // Assess
    expect(h.create).not.toHaveBeenCalled();
    expect(h.update).not.toHaveBeenCalled();
    expect(h.delete).not.toHaveBeenCalled();
    for (const line of logged) {
      expect(line.length).toBeLessThanOrEqual(2_048);
      expect(line).not.toMatch(/[\n\u200B\u202E]/);
    }
    const body = {
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      PhysicalResourceId:
        event.PhysicalResourceId ??
        defaultPhysicalResourceId(event.StackId as string, event.LogicalResourceId as string),
    };
    if (Buffer.byteLength(JSON.stringify(body)) > MAX_RESPONSE_BYTES - 100) {
      expect(send).not.toHaveBeenCalled();
      expect(response).toBeUndefined();
      expect(logged.join('\n')).toContain('cannot fit in 4096 bytes');
      return;
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({ ...body, Status: 'FAILED' });
    expect(sent[0]?.body.Reason).toMatch(new RegExp(`^Malformed request: ${field} must be `));
    expect((sent[0]?.body.Reason as string).length).toBeLessThanOrEqual(400);
    expect(sent[0]?.body.Reason).not.toMatch(/[\n\u200B\u202E]/);
  });

  it('bounds an unknown RequestType quoted back in the reason', async () => {
    const event = loadEvent('cloudformation/create');
    event.RequestType = 'x'.repeat(1 << 20);
    const { sent, send } = recorder();
    await runCustomResource<Props>(event, fakeContext(), handlers(), { send });
    expect(sent[0]?.body.Reason).toBe(
      `Malformed request: Unknown RequestType "${'x'.repeat(32)}"... (1048576 characters); expected Create, Update or Delete`,
    );
  });

  it('answers FAILED to a malformed request whose ResponseURL is usable', async () => {
    const event = loadEvent('cloudformation/create');
    event.ResponseURL = 'http://127.0.0.1:9/r';
    event.RequestType = 'Upsert';
    const { sent, send } = recorder();
    await runCustomResource<Props>(event, fakeContext(), handlers(), { send });
    expect(sent.map((s) => [s.url, s.body.Status])).toEqual([['http://127.0.0.1:9/r', 'FAILED']]);
  });

  it('retries a failed PUT and never throws when delivery keeps failing', async () => {
    const clock = manualClock();
    const send = vi.fn().mockRejectedValueOnce(new Error('ECONNRESET')).mockResolvedValue(undefined);
    await runCustomResource<Props>(loadEvent('cloudformation/delete'), fakeContext(), handlers(), {
      send,
      clock,
    });
    expect(send).toHaveBeenCalledTimes(2);

    const failing = vi.fn().mockRejectedValue(new Error('down'));
    const response = await runCustomResource<Props>(
      loadEvent('cloudformation/delete'),
      fakeContext(),
      handlers(),
      {
        send: failing,
        clock,
      },
    );
    expect(failing).toHaveBeenCalledTimes(4);
    expect(response?.Status).toBe('SUCCESS');
  });

  it('does not retry a 4xx from the response URL (expired presigned URL)', async () => {
    const clock = manualClock();
    let sleepsBefore = -1;
    const send = vi.fn(async () => {
      sleepsBefore = clock.sleeps.length;
      throw new ResponseUrlError('Response URL answered HTTP 403', 403);
    });
    const response = await runCustomResource<Props>(
      loadEvent('cloudformation/delete'),
      fakeContext(),
      handlers(),
      { send, clock },
    );
    expect(send).toHaveBeenCalledTimes(1);
    expect(clock.sleeps.length).toBe(sleepsBefore); // no back-off pause after the 403
    expect(response?.Status).toBe('SUCCESS');
  });

  it('retries a 5xx or a timeout, but finishes sending within the margin, before the Lambda deadline', async () => {
    for (const remainingMs of [300_000, 16_000, 12_000]) {
      const clock = manualClock();
      const start = clock.now();
      const timeouts: number[] = [];
      let firstSendAt: number | undefined;
      // A URL that never answers: every attempt uses its whole timeout.
      const send = vi.fn(async (_url: string, _body: string, options?: SendOptions) => {
        firstSendAt ??= clock.now();
        timeouts.push(options?.timeoutMs ?? Number.POSITIVE_INFINITY);
        clock.advance(options?.timeoutMs ?? 60_000);
        throw new ResponseUrlError('Response URL timed out');
      });
      await runCustomResource<Props>(
        loadEvent('cloudformation/delete'),
        fakeContext(remainingMs, clock.now),
        handlers(),
        { send, clock, deadlineMarginMs: 15_000 },
      );
      expect(clock.now() - (firstSendAt as number), `remaining ${remainingMs}`).toBeLessThan(15_000);
      expect(clock.now(), `remaining ${remainingMs}`).toBeLessThan(start + remainingMs);
      expect(Math.max(...timeouts)).toBeLessThanOrEqual(RESPONSE_PUT_TIMEOUT_MS);
      expect(send.mock.calls.length).toBeGreaterThanOrEqual(1);
    }
  });

  it('retries a 500 answer within the budget', async () => {
    const clock = manualClock();
    const send = vi
      .fn()
      .mockRejectedValueOnce(new ResponseUrlError('Response URL answered HTTP 500', 500))
      .mockResolvedValue(undefined);
    await runCustomResource<Props>(loadEvent('cloudformation/delete'), fakeContext(), handlers(), {
      send,
      clock,
    });
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('uses the PhysicalResourceId the work returns', async () => {
    const { sent, send } = recorder();
    await runCustomResource<Props>(
      loadEvent('cloudformation/create'),
      fakeContext(),
      handlers({ create: async () => ({ physicalResourceId: 'custom-id', noEcho: true }) }),
      { send },
    );
    expect(sent[0]?.body).toMatchObject({ PhysicalResourceId: 'custom-id', NoEcho: true, Status: 'SUCCESS' });
  });
});

describe('buildResponseBody', () => {
  const base = { PhysicalResourceId: 'p', StackId: 's', RequestId: 'r', LogicalResourceId: 'l' };
  const build = (...args: Parameters<typeof buildResponseBody>) => buildResponseBody(...args) as string;

  it('keeps a small body as is', () => {
    const body = { ...base, Status: 'SUCCESS' as const, Data: { a: 'b' } };
    expect(JSON.parse(build(body))).toEqual(body);
  });

  it('shortens a long Reason to fit 4096 bytes', () => {
    const text = build({ ...base, Status: 'FAILED', Reason: 'é'.repeat(5000) });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(JSON.parse(text).Reason).toMatch(/\[truncated\]$/);
  });

  it('answers FAILED rather than silently dropping oversized Data', () => {
    const text = build({ ...base, Status: 'SUCCESS', Data: { big: 'x'.repeat(5000) } });
    const body = JSON.parse(text);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(body.Status).toBe('FAILED');
    expect(body.Data).toBeUndefined();
    expect(body.Reason).toMatch(/Response Data is \d+ bytes/);
  });

  it('gives nothing to send when the ids alone do not fit in 4096 bytes', () => {
    const long = { ...base, StackId: 'x'.repeat(5000) };
    expect(buildResponseBody({ ...long, Status: 'FAILED', Reason: 'r'.repeat(3000) })).toBeUndefined();
    expect(buildResponseBody({ ...long, Status: 'SUCCESS' })).toBeUndefined();
  });
});
