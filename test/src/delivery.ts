/**
 * At-least-once delivery, as EventBridge and Lambda's asynchronous queue give it: every event is
 * delivered `copies` times at once ("even if your function doesn't return an error, it's possible
 * for it to receive the same event from Lambda multiple times", Lambda developer guide,
 * "Asynchronous invocation"), and a delivery whose invocation throws is invoked again, up to
 * `retries` times (Lambda's default for asynchronous invocation is 2), after `retryDelayMs`
 * (Lambda waits about a minute; tests scale it down).
 */
export interface DeliveryOptions {
  copies?: number;
  retries?: number;
  retryDelayMs?: number;
  /** A fresh Lambda context per invocation. */
  context: () => unknown;
}

/** What one delivery (with its retries) ended with: the last outcome, or the last error. */
export interface Delivery {
  outcome?: unknown;
  errors: unknown[];
}

export async function deliverAtLeastOnce(
  handler: (event: unknown, context: unknown) => Promise<unknown>,
  event: unknown,
  { copies = 2, retries = 2, retryDelayMs = 1_000, context }: DeliveryOptions,
): Promise<Delivery[]> {
  const deliver = async (): Promise<Delivery> => {
    const errors: unknown[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, retryDelayMs));
      try {
        return { outcome: await handler(event, context()), errors };
      } catch (error) {
        errors.push(error);
      }
    }
    return { errors };
  };
  return Promise.all(Array.from({ length: copies }, deliver));
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/**
 * One function's execution environments, as Lambda runs them: an invocation takes an idle
 * environment, or starts a new one (`start`, e.g. a fresh module instance of the bundle) when every
 * environment is busy, and an environment serves one invocation at a time. Module state (the SDK
 * clients, with their retry quota and adaptive rate limiter) is thus per environment, as in Lambda:
 * concurrent deliveries never share one client, so one delivery's throttling does not slow down
 * every other delivery in the test (they would run into their deadlines waiting on one limiter).
 */
export function executionEnvironments(start: () => Promise<Handler>): Handler & { started(): number } {
  const idle: Handler[] = [];
  let started = 0;
  const invoke = async (event: unknown, context: unknown) => {
    let handler = idle.pop();
    if (handler === undefined) {
      started++;
      handler = await start();
    }
    try {
      return await handler(event, context);
    } finally {
      idle.push(handler);
    }
  };
  return Object.assign(invoke, { started: () => started });
}

/** An emulator's fault injection (`Emulator['injectFault']` of `@netkit/local-aws`). */
type InjectFault = (fault: {
  service: string;
  action: string;
  rate: number;
  seed: number;
  code?: string;
  status?: number;
  reset?: 'before' | 'after';
}) => Promise<void>;

/**
 * From now on half of all EC2 and Auto Scaling calls fail, as in the faulted runs: four
 * independent draws of 0.16 each (1 - 0.84^4 = 0.50): 500s, throttling, and connections reset
 * before and after AWS acted. `seed` makes the draws repeatable.
 */
export async function failHalfOfAllCalls(injectFault: InjectFault, seed: number): Promise<void> {
  const kinds = [
    { code: 'InternalError', status: 500 },
    { code: 'RequestLimitExceeded', status: 503 },
    { reset: 'before' as const },
    { reset: 'after' as const },
  ];
  for (const service of ['ec2', 'autoscaling']) {
    for (const [i, kind] of kinds.entries()) {
      await injectFault({ service, action: '*', rate: 0.16, seed: seed + i, ...kind });
    }
  }
}
