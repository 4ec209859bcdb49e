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
