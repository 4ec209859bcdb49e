import type { Tracer } from '@aws-lambda-powertools/tracer';

/** Default retry settings when the user has not set AWS_MAX_ATTEMPTS / AWS_RETRY_MODE. */
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_MODE = 'adaptive';

export interface ClientOptions {
  tracer?: Pick<Tracer, 'captureAWSv3Client'>;
  region?: string;
  maxAttempts?: number;
  retryMode?: 'standard' | 'adaptive';
  env?: Record<string, string | undefined>;
}

interface ClientConfigShape {
  region?: string;
  maxAttempts?: number;
  retryMode?: string;
}

/**
 * The one place that builds SDK v3 clients: region from the environment, adaptive retries (client-side
 * rate limiting for a burst of launches) and Tracer capture. Endpoints are left to the SDK
 * (`AWS_ENDPOINT_URL` keeps working).
 */
export function createClient<C extends object, Config extends ClientConfigShape>(
  Client: new (config: Config) => C,
  options: ClientOptions = {},
): C {
  const env = options.env ?? process.env;
  const config: ClientConfigShape = {};
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) config.region = region;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  else if (!env.AWS_MAX_ATTEMPTS) config.maxAttempts = DEFAULT_MAX_ATTEMPTS;
  if (options.retryMode !== undefined) config.retryMode = options.retryMode;
  else if (!env.AWS_RETRY_MODE) config.retryMode = DEFAULT_RETRY_MODE;
  const client = new Client(config as Config);
  return options.tracer ? options.tracer.captureAWSv3Client(client) : client;
}
