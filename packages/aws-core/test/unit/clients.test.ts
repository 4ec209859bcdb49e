import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it, vi } from 'vitest';
import { type ClientOptions, createClient, DEFAULT_MAX_ATTEMPTS } from '../../src/clients.ts';

describe('createClient', () => {
  it('takes the region from the environment and sets bounded adaptive retries', async () => {
    const client = createClient(EC2Client, { env: { AWS_REGION: 'ap-northeast-1' } });
    expect(await client.config.region()).toBe('ap-northeast-1');
    expect(await client.config.maxAttempts()).toBe(DEFAULT_MAX_ATTEMPTS);
    expect(client.config.retryMode).toBe('adaptive');
  });

  it('leaves retries to AWS_MAX_ATTEMPTS / AWS_RETRY_MODE when the user set them', () => {
    const client = createClient(EC2Client, {
      env: { AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '9', AWS_RETRY_MODE: 'standard' },
    });
    expect(client.config.retryMode).not.toBe('adaptive');
  });

  it('keeps AWS_ENDPOINT_URL working: the endpoint is left to the SDK', async () => {
    const before = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:4566';
    try {
      const client = createClient(EC2Client, {
        region: 'us-east-1',
        env: { AWS_REGION: 'us-east-1' },
        maxAttempts: 1,
      });
      let url = '';
      client.middlewareStack.add(
        (_next) => async (args) => {
          const req = args.request as { protocol: string; hostname: string; port?: number };
          url = `${req.protocol}//${req.hostname}:${req.port}`;
          throw new Error('captured');
        },
        { step: 'finalizeRequest' },
      );
      await expect(client.send(new DescribeRegionsCommand({}), {})).rejects.toThrow('captured');
      expect(url).toBe('http://127.0.0.1:4566');
    } finally {
      if (before === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = before;
    }
  });

  it('captures the client with the tracer when one is given', () => {
    const capture = vi.fn(<T>(c: T) => c);
    const tracer = { captureAWSv3Client: capture } as unknown as ClientOptions['tracer'];
    const client = createClient(EC2Client, { region: 'us-east-1', tracer });
    expect(capture).toHaveBeenCalledWith(client);
  });
});
