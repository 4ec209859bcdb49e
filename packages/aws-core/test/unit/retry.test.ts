import { manualClock } from '@netkit/testing';
import { describe, expect, it, vi } from 'vitest';
import { DeadlineExceededError, isTransientError, RaceUnsettledError } from '../../src/errors.ts';
import {
  awsCall,
  backoffDelay,
  type CallOptions,
  Deadline,
  pollUntil,
  RACE_SETTLE_MS,
  settleRace,
  systemClock,
} from '../../src/retry.ts';

describe('backoffDelay', () => {
  it('grows exponentially with jitter and respects the cap', () => {
    expect(backoffDelay(0, { baseMs: 100, random: () => 0 })).toBe(50);
    expect(backoffDelay(0, { baseMs: 100, random: () => 0.999999 })).toBe(100);
    expect(backoffDelay(3, { baseMs: 100, random: () => 0 })).toBe(400);
    expect(backoffDelay(30, { baseMs: 100, maxMs: 1000, random: () => 1 })).toBe(1000);
  });
});

describe('Deadline', () => {
  it('derives from the Lambda context minus a margin, optionally capped', () => {
    const clock = manualClock();
    const d = Deadline.fromContext({ getRemainingTimeInMillis: () => 60_000 }, 10_000, clock);
    expect(d.remaining()).toBe(50_000);
    const capped = Deadline.fromContext({ getRemainingTimeInMillis: () => 60_000 }, 10_000, clock, 5_000);
    expect(capped.remaining()).toBe(5_000);
    clock.advance(5_000);
    expect(capped.expired()).toBe(true);
    expect(Deadline.fromContext({ getRemainingTimeInMillis: () => 1_000 }, 10_000, clock).remaining()).toBe(
      0,
    );
  });
});

describe('Deadline.within', () => {
  it('is the earlier of the deadline and the window from now, on the same clock', () => {
    // Prepare
    const clock = manualClock();
    const job = Deadline.in(50_000, clock);

    // Act
    const short = job.within(15_000);
    const long = job.within(80_000);
    clock.advance(15_000);

    // Assess
    expect(short.at).toBe(job.at - 35_000);
    expect(short.expired()).toBe(true);
    expect(long).toBe(job);
    expect(long.remaining()).toBe(35_000);
  });
});

describe('awsCall retries', () => {
  const awsError = (name: string, fault: 'client' | 'server', status: number) =>
    Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });

  it('retries throttling, server faults, network errors and the named transient errors', async () => {
    // Prepare
    const clock = manualClock();
    const fn = vi
      .fn()
      .mockRejectedValueOnce(awsError('RequestLimitExceeded', 'client', 503))
      .mockRejectedValueOnce(awsError('InternalError', 'server', 500))
      .mockRejectedValueOnce(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))
      .mockRejectedValueOnce(awsError('IncorrectInstanceState', 'client', 400))
      .mockResolvedValue('ok');
    const onWait = vi.fn();
    // Act
    const result = awsCall('Op', fn, {
      deadline: Deadline.in(60_000, clock),
      clock,
      transient: ['IncorrectInstanceState'],
      onWait,
    });
    // Assess
    await expect(result).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(5);
    expect(onWait).toHaveBeenCalledTimes(4);
    expect(clock.sleeps).toHaveLength(4);
  });

  it('rethrows a client error that is not named transient at once', async () => {
    // Prepare
    const clock = manualClock();
    const fn = vi.fn().mockRejectedValue(awsError('IncorrectInstanceState', 'client', 400));
    // Act
    const result = awsCall('Op', fn, { deadline: Deadline.in(60_000, clock), clock });
    // Assess
    await expect(result).rejects.toThrow('IncorrectInstanceState');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives up with the last error when the next wait would pass the deadline', async () => {
    const clock = manualClock();
    let n = 0;
    const fn = () => Promise.reject(awsError(`InternalError${++n}`, 'server', 500));
    await expect(
      awsCall('Op', fn, { deadline: Deadline.in(1_000, clock), clock, baseMs: 200, random: () => 0 }),
    ).rejects.toThrow(/^InternalError\d+$/);
    expect(n).toBeGreaterThan(1);
    expect(clock.now() - Date.parse('2026-11-21T10:00:00Z')).toBeLessThanOrEqual(1_000);
  });
});

describe('awsCall', () => {
  const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });

  it('retries a transient error from 250 ms on, logs each retry with the call name and waits through onWait', async () => {
    // Prepare
    const clock = manualClock();
    const debug = vi.fn();
    const onWait = vi.fn();
    const fn = vi
      .fn()
      .mockRejectedValueOnce(throttled())
      .mockRejectedValueOnce(throttled())
      .mockResolvedValue('ok');
    const options: CallOptions = {
      deadline: Deadline.in(60_000, clock),
      clock,
      random: () => 1,
      logger: { debug },
      onWait,
    };
    // Act
    const result = await awsCall('DescribeAddresses', fn, options);
    // Assess
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([250, 500]);
    expect(onWait).toHaveBeenCalledTimes(2);
    expect(debug).toHaveBeenCalledWith('Retrying DescribeAddresses', {
      error: 'Throttling: Rate exceeded',
      attempt: 1,
      delayMs: 250,
    });
  });

  it('stops retrying when onWait throws, and throws that error', async () => {
    // Prepare
    const clock = manualClock();
    const fn = vi.fn().mockRejectedValue(throttled());
    const options: CallOptions = {
      deadline: Deadline.in(60_000, clock),
      clock,
      onWait: () => {
        throw new Error('lifecycle action ended');
      },
    };
    // Act
    const result = awsCall('AssociateAddress', fn, options);
    // Assess
    await expect(result).rejects.toThrow('lifecycle action ended');
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe('pollUntil', () => {
  it('returns the first defined value', async () => {
    const clock = manualClock();
    let n = 0;
    const value = await pollUntil(async () => (++n === 3 ? 'ready' : undefined), {
      deadline: Deadline.in(60_000, clock),
      clock,
      what: 'thing',
    });
    expect(value).toBe('ready');
    expect(n).toBe(3);
  });

  it('throws DeadlineExceededError naming what it waited for', async () => {
    const clock = manualClock();
    const check = vi.fn(async () => undefined);
    await expect(
      pollUntil(check, {
        deadline: Deadline.in(2_000, clock),
        clock,
        what: 'NAT gateway nat-1 to be deleted',
      }),
    ).rejects.toThrow(new DeadlineExceededError('Timed out waiting for NAT gateway nat-1 to be deleted'));
    // It checks once more at the deadline instead of giving up early.
    expect(clock.now() - Date.parse('2026-11-21T10:00:00Z')).toBe(2_000);
    expect(check.mock.calls.length).toBeGreaterThan(2);
  });
});

describe('settleRace', () => {
  it("returns the winner's work once the eventually consistent Describe shows it", async () => {
    // Prepare
    const clock = manualClock();
    let looks = 0;

    // Act
    const winner = await settleRace(async () => (++looks === 4 ? 'eni-winner' : undefined), {
      deadline: Deadline.in(60_000, clock),
      clock,
      what: 'the twin delivery',
    });

    // Assess
    expect(winner).toBe('eni-winner');
    expect(looks).toBe(4);
  });

  it('fails as RaceUnsettledError (not a final verdict) when the winner never shows within the window', async () => {
    // Prepare
    const clock = manualClock();
    const start = clock.now();

    // Act
    const settled = settleRace(async () => undefined, {
      deadline: Deadline.in(60_000, clock),
      clock,
      what: 'the attachment at device index 1',
    });

    // Assess
    const error = await settled.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaceUnsettledError);
    expect((error as Error).message).toContain('the attachment at device index 1');
    expect(clock.now() - start).toBe(RACE_SETTLE_MS);
  });

  it('never waits past the deadline, and passes a verdict thrown by the look through', async () => {
    // Prepare
    const clock = manualClock();
    const start = clock.now();
    const verdict = new Error('device index held by a foreign interface');

    // Act
    const short = settleRace(async () => undefined, {
      deadline: Deadline.in(1_500, clock),
      clock,
      what: 'x',
    });
    const thrown = settleRace(
      async () => {
        throw verdict;
      },
      { deadline: Deadline.in(60_000, clock), clock, what: 'x' },
    );

    // Assess
    await expect(short).rejects.toBeInstanceOf(RaceUnsettledError);
    expect(clock.now() - start).toBe(1_500);
    await expect(thrown).rejects.toBe(verdict);
    expect(isTransientError(new RaceUnsettledError('x'))).toBe(false);
  });
});

describe('systemClock.sleep', () => {
  it('ends early when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const sleeping = systemClock.sleep(10_000, abort.signal);
    abort.abort();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1_000);
    await systemClock.sleep(5, abort.signal);
  });
});
