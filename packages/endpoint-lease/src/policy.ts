/**
 * The lease decision, as a pure function of (state, now, config). Both handlers and the cost
 * simulator call `decide`, so what is simulated is what runs. All times are epoch milliseconds (UTC).
 */
import type { Config } from './config.ts';

type BillingAnchor = Config['billingAnchor'];

export const HOUR_MS = 3_600_000;

/** CloudFormation stack statuses, compared as strings. */
const STABLE = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE']);
const FAILED = new Set([
  'CREATE_FAILED',
  'ROLLBACK_COMPLETE',
  'ROLLBACK_FAILED',
  'DELETE_FAILED',
  'UPDATE_FAILED',
  'UPDATE_ROLLBACK_FAILED',
  'IMPORT_ROLLBACK_COMPLETE',
  'IMPORT_ROLLBACK_FAILED',
]);
const DELETING = 'DELETE_IN_PROGRESS';

type StackPhase = 'absent' | 'stable' | 'in-progress' | 'deleting' | 'failed';

/** Classify a stack status string; anything unknown counts as in progress (wait, never delete). */
export function stackPhase(status: string | undefined): StackPhase {
  if (status === undefined || status === 'DELETE_COMPLETE') return 'absent';
  if (STABLE.has(status)) return 'stable';
  if (FAILED.has(status)) return 'failed';
  if (status === DELETING) return 'deleting';
  return 'in-progress';
}

export interface PolicyConfig {
  deletePolicy: Config['deletePolicy'];
  /** Delete when the current billed hour ends within this many ms. */
  billingGuardMs: number;
  billingAnchor: BillingAnchor;
}

export interface LeaseState {
  /** The endpoint stack, or undefined when it does not exist. */
  stack: { status: string; createdAt: number } | undefined;
  /** End of the latest recorded lease (epoch ms), if any. */
  leaseUntil: number | undefined;
  /** Tasks of the package that are PENDING or RUNNING. */
  activeTasks: number;
  /** True when the caller wants endpoints now (acquire); false for the reaper. */
  demand: boolean;
}

export type Action =
  /** No stack and nobody needs one. */
  | { kind: 'none' }
  /** Create the stack (demand, no stack). */
  | { kind: 'create' }
  /** The stack is usable: start tasks. */
  | { kind: 'use' }
  /** A stack operation is running; look again later. `deleting` means: recreate once it is gone. */
  | { kind: 'wait'; reason: 'in-progress' | 'deleting' }
  /** Keep the stack; `until` is when the decision can next change (undefined: on task stop). */
  | { kind: 'keep'; reason: 'lease' | 'tasks' | 'hour-paid'; until: number | undefined }
  /** Delete the stack now. */
  | { kind: 'delete'; reason: 'failed' | 'idle' | 'idle-hour-ending' };

/** The end of the billed hour containing `now` (a partial hour is billed as a full one). */
export function billedHourEnd(createdAt: number, now: number, anchor: BillingAnchor): number {
  const origin = anchor === 'clock-hour' ? 0 : createdAt;
  return origin + (Math.floor(Math.max(0, now - origin) / HOUR_MS) + 1) * HOUR_MS;
}

/** Billed hours for a stack that existed from `createdAt` to `deletedAt` (creation-anchored). */
export function billedHours(createdAt: number, deletedAt: number): number {
  return Math.max(1, Math.ceil((deletedAt - createdAt) / HOUR_MS));
}

export function decide(state: LeaseState, now: number, config: PolicyConfig): Action {
  const phase = stackPhase(state.stack?.status);
  if (phase === 'absent') return state.demand ? { kind: 'create' } : { kind: 'none' };
  if (phase === 'deleting') return { kind: 'wait', reason: 'deleting' };
  if (phase === 'in-progress') return { kind: 'wait', reason: 'in-progress' };
  const leaseActive = state.leaseUntil !== undefined && state.leaseUntil > now;
  if (phase === 'failed') {
    // A failed stack gives no usable endpoints: an acquire replaces it; the reaper removes it
    // once nobody holds it (a task started against it is already on its own).
    if (state.demand || (!leaseActive && state.activeTasks === 0))
      return { kind: 'delete', reason: 'failed' };
    return leaseActive
      ? { kind: 'keep', reason: 'lease', until: state.leaseUntil }
      : { kind: 'keep', reason: 'tasks', until: undefined };
  }
  // stable
  if (state.demand) return { kind: 'use' };
  if (state.activeTasks > 0) return { kind: 'keep', reason: 'tasks', until: undefined };
  if (leaseActive) return { kind: 'keep', reason: 'lease', until: state.leaseUntil };
  if (config.deletePolicy === 'immediate') return { kind: 'delete', reason: 'idle' };
  const createdAt = state.stack?.createdAt ?? now;
  const hourEnd = billedHourEnd(createdAt, now, config.billingAnchor);
  const windowStart = hourEnd - config.billingGuardMs;
  if (now >= windowStart) return { kind: 'delete', reason: 'idle-hour-ending' };
  return { kind: 'keep', reason: 'hour-paid', until: windowStart };
}
