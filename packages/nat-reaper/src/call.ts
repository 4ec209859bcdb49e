import { DeadlineExceededError, isTransientError, NetkitError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import {
  type CallOptions as AwsCallOptions,
  awsCall,
  type Clock,
  type Deadline,
} from '@netkit/aws-core/retry';
import { StepFailedError } from './errors.ts';

export interface CallContext {
  deadline: Deadline;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal | undefined;
}

export type CallOptions = Pick<AwsCallOptions, 'transient' | 'baseMs' | 'maxMs'>;

/** `awsCall` for one step: a transient error's retry is a warning, the call's own expected ones are info. */
export function call<T>(ctx: CallContext, step: string, fn: () => Promise<T>, options: CallOptions = {}) {
  let last: unknown;
  const attempt = () =>
    fn().catch((error: unknown) => {
      last = error;
      throw error;
    });
  return awsCall(step, attempt, {
    baseMs: 250,
    maxMs: 4_000,
    ...options,
    deadline: ctx.deadline,
    clock: ctx.clock,
    logger: {
      debug: (_message, details) =>
        isTransientError(last)
          ? ctx.logger.warn('Transient AWS error; retrying', { step, ...details })
          : ctx.logger.info('Not possible yet; retrying', { step, ...details }),
    },
    onWait: () => stopIfAborted(ctx.signal),
  });
}

export function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DeadlineExceededError('Stopped: the deadline answer was already sent to CloudFormation');
  }
}

/** Our own errors already say what failed; an AWS or network error gets the step's name. */
export const stepFailed = (step: string, error: unknown): unknown =>
  error instanceof NetkitError ? error : new StepFailedError(step, error);
