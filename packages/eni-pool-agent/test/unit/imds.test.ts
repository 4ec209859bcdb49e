import { afterEach, describe, expect, it } from 'vitest';
import { ImdsUnreachableError } from '../../src/errors.ts';
import { Imds } from '../../src/imds.ts';
import { type ImdsFixture, startImdsFixture } from '../support/imds-server.ts';

let fixture: ImdsFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('IMDSv2 client', () => {
  it('reads identity and placement with a session token, never without one', async () => {
    // Prepare
    fixture = await startImdsFixture({
      instanceId: 'i-0123456789abcdef0',
      availabilityZone: 'ap-northeast-1c',
    });
    const imds = new Imds({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: fixture.endpoint } });

    // Act
    const identity = await imds.identity();

    // Assess
    expect(identity).toEqual({
      instanceId: 'i-0123456789abcdef0',
      region: 'ap-northeast-1',
      availabilityZone: 'ap-northeast-1c',
    });
    expect(fixture.requests[0]).toEqual({ method: 'PUT', path: '/latest/api/token', authorized: false });
    expect(fixture.requests.slice(1).every((r) => r.method === 'GET' && r.authorized)).toBe(true);
    expect(fixture.requests.filter((r) => r.method === 'PUT')).toHaveLength(1); // token reused
  });

  it('the fixture refuses a metadata GET without a token (IMDSv1) with 401', async () => {
    fixture = await startImdsFixture({ instanceId: 'i-0123456789abcdef0', availabilityZone: 'us-east-1a' });
    const response = await fetch(`${fixture.endpoint}/latest/meta-data/instance-id`);
    expect(response.status).toBe(401);
  });

  it('reads an instance tag and reports a missing one as undefined', async () => {
    fixture = await startImdsFixture({
      instanceId: 'i-0123456789abcdef0',
      availabilityZone: 'us-east-1a',
      tags: { HostName: 'server-a1' },
    });
    const imds = new Imds({ endpoint: fixture.endpoint });
    expect(await imds.instanceTag('HostName')).toBe('server-a1');
    expect(await imds.instanceTag('Missing')).toBeUndefined();
  });

  it('says clearly when the metadata service cannot be reached', async () => {
    const imds = new Imds({ endpoint: 'http://127.0.0.1:9', timeoutMs: 200, attempts: 2 });
    const error = await imds.identity().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImdsUnreachableError);
    expect((error as Error).message).toMatch(
      /Cannot reach the instance metadata service at http:\/\/127\.0\.0\.1:9/,
    );
  });
});
