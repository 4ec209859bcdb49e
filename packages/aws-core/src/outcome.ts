/** What happened to the event, in the same words in every package (docs/package-conventions.md rule 8). */
type HandlerStatus =
  /** Done now (a lifecycle hook, if any, completed CONTINUE). */
  | 'done'
  /** Done before (a redelivery or repeated request): nothing changed. */
  | 'already-done'
  /** The lifecycle hook was completed ABANDON. */
  | 'abandoned'
  /** The lifecycle action was no longer active: stopped, cleaned up. */
  | 'ended'
  /** Invalid, can never succeed: logged once, no AWS call, not retried. */
  | 'rejected'
  /** Valid but not for this handler (another group or hook, a warm-pool move, nothing to do). */
  | 'skipped'
  /** Failed in a way a retry will not fix. */
  | 'failed';

/** Every handler's result: `{ status, reason? }` plus package facts in other fields. */
export interface HandlerOutcome<S extends HandlerStatus = HandlerStatus> {
  status: S;
  /** Why, for every status other than `done` and `already-done`. */
  reason?: string;
}
