import {
  DeadlineExceededError,
  describeError,
  isAwsError,
  isTransientError,
  RaceUnsettledError,
} from './errors.ts';
import type { Logger } from './observability.ts';

/** Time source, injectable so that tests and simulations control waits. */
export interface Clock {
  now(): number;
  /** Resolve after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** The Lambda context members the packages use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/** An absolute point in time (epoch ms) by which work must be done. */
export class Deadline {
  constructor(
    readonly at: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Lambda's remaining time minus `marginMs`, optionally capped by `maxMs` from now. */
  static fromContext(
    context: LambdaContextLike,
    marginMs: number,
    clock: Clock = systemClock,
    maxMs?: number,
  ) {
    const remaining = Math.max(0, context.getRemainingTimeInMillis() - marginMs);
    return new Deadline(clock.now() + (maxMs === undefined ? remaining : Math.min(remaining, maxMs)), clock);
  }

  static in(ms: number, clock: Clock = systemClock) {
    return new Deadline(clock.now() + ms, clock);
  }

  /**
   * This deadline, or `ms` from now if that comes first: bounds one step (e.g. waiting for
   * EC2's eventual consistency) by its own window without outliving the whole job.
   */
  within(ms: number): Deadline {
    const at = this.clock.now() + ms;
    return at < this.at ? new Deadline(at, this.clock) : this;
  }

  remaining(): number {
    return Math.max(0, this.at - this.clock.now());
  }

  expired(): boolean {
    return this.remaining() <= 0;
  }
}

interface BackoffOptions {
  /** First delay, before jitter. */
  baseMs?: number;
  /** Cap of a single delay. */
  maxMs?: number;
  /** Source of randomness in [0, 1) for full jitter; injectable for tests. */
  random?: () => number;
}

/** Exponential backoff with "equal jitter": half fixed, half random, so waits never collapse to zero. */
export function backoffDelay(
  attempt: number,
  { baseMs = 200, maxMs = 5_000, random = Math.random }: BackoffOptions = {},
) {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export interface CallOptions extends BackoffOptions {
  deadline: Deadline;
  clock?: Clock;
  /** AWS error names that are transient for this call, besides throttling, 5xx and network errors. */
  transient?: readonly string[];
  /** Hears each retry at debug level, with the call's name. */
  logger?: Pick<Logger, 'debug'>;
  /** Called before each wait (a heartbeat, an abort check). A throw stops the retries. */
  onWait?: () => void | Promise<void>;
}

/**
 * The one AWS call helper of every package: `fn` retried on transient errors (throttling, 5xx,
 * network, and the call's own `transient` names) with backoff from 250 ms to 5 s, above the SDK's
 * own retries, until the next wait would pass the deadline. The last error is thrown unchanged.
 */
export async function awsCall<T>(what: string, fn: () => Promise<T>, options: CallOptions): Promise<T> {
  const { transient = [], logger, onWait, clock = systemClock } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransientError(error) && !isAwsError(error, ...transient)) throw error;
      const delayMs = backoffDelay(attempt, { baseMs: 250, maxMs: 5_000, ...options });
      if (delayMs >= options.deadline.remaining()) throw error;
      logger?.debug(`Retrying ${what}`, { error: describeError(error), attempt: attempt + 1, delayMs });
      await onWait?.();
      await clock.sleep(delayMs);
    }
  }
}

/**
 * After losing a contended claim: a random 0..min(2 s, 250 ms * 2^(collisions-1)) ms ("full
 * jitter"), so the losers of a burst do not all re-read the same snapshot and collide again.
 */
export function collisionDelay(collisions: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(2_000, 250 * 2 ** Math.max(0, collisions - 1)));
}

interface PollOptions extends BackoffOptions {
  deadline: Deadline;
  clock?: Clock;
  /** What is being waited for, for the timeout message. */
  what: string;
  onWait?: (attempt: number, delayMs: number) => void | Promise<void>;
}

/**
 * Bounded polling with backoff: call `check` until it returns a value other than
 * `undefined`; throws DeadlineExceededError naming `what` when time runs out.
 */
export async function pollUntil<T>(
  check: (attempt: number) => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  for (let attempt = 0; ; attempt++) {
    const value = await check(attempt);
    if (value !== undefined) return value;
    const delay = Math.min(backoffDelay(attempt, options), options.deadline.remaining());
    if (delay <= 0 || options.deadline.expired()) {
      throw new DeadlineExceededError(`Timed out waiting for ${options.what}`);
    }
    await options.onWait?.(attempt, delay);
    await clock.sleep(delay);
  }
}

/** How long a lost race waits, by default, for Describe to show the winner's work. */
export const RACE_SETTLE_MS = 10_000;

interface SettleOptions extends BackoffOptions {
  deadline: Deadline;
  clock?: Clock;
  /** The winner's work being waited for, for the RaceUnsettledError message. */
  what: string;
  /** Longest wait, bounded by `deadline` too (default RACE_SETTLE_MS). */
  windowMs?: number;
  onWait?: (attempt: number, delayMs: number) => void | Promise<void>;
}

/**
 * After a claim lost to a possibly concurrent delivery: call `look` with backoff (within `windowMs`,
 * never past `deadline`) until it returns the winner's work. If Describe still does not show it, throw
 * RaceUnsettledError (transient: redelivered), never ABANDON on a stale read. `look`'s errors pass through.
 */
export async function settleRace<T>(
  look: (attempt: number) => Promise<T | undefined>,
  { windowMs = RACE_SETTLE_MS, what, ...options }: SettleOptions,
): Promise<T> {
  try {
    return await pollUntil(look, {
      baseMs: 250,
      maxMs: 2_000,
      ...options,
      deadline: options.deadline.within(windowMs),
      what,
    });
  } catch (error) {
    if (!(error instanceof DeadlineExceededError)) throw error;
    throw new RaceUnsettledError(
      `Lost a race, but EC2 does not show ${what} yet (eventual consistency); leaving the event to be redelivered`,
      { cause: error },
    );
  }
}
