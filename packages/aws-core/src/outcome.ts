/**
 * The one result vocabulary of every handler: `{ status, ...details }`. A status says what
 * happened to the event, in the same words in every package; package-specific facts (the
 * allocation, the interface, the stack) go in the other fields.
 */
export type HandlerStatus =
  /** The work was done now (and a lifecycle hook, if any, was completed CONTINUE). */
  | 'done'
  /** A redelivery or a repeated request: the work had been done before, nothing changed. */
  | 'already-done'
  /** The lifecycle hook was completed ABANDON; `reason` says why. */
  | 'abandoned'
  /** The lifecycle action was no longer active (hook timed out or completed elsewhere): stopped, cleaned up. */
  | 'ended'
  /** The event is invalid and can never succeed: logged once, no AWS call, not retried. */
  | 'rejected'
  /** The event is valid but not for this handler (another group or hook, a warm-pool move, nothing to do). */
  | 'skipped'
  /** The work failed in a way that a retry will not fix; `reason` says why. */
  | 'failed';

export interface HandlerOutcome<S extends HandlerStatus = HandlerStatus> {
  status: S;
  /** Why, for every status other than `done` and `already-done`. */
  reason?: string;
}

export const HANDLER_STATUSES: readonly HandlerStatus[] = [
  'done',
  'already-done',
  'abandoned',
  'ended',
  'rejected',
  'skipped',
  'failed',
];
