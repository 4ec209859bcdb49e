import { describe, expect, it } from 'vitest';
import {
  type Action,
  billedHourEnd,
  billedHours,
  decide,
  type PolicyConfig,
  stackPhase,
} from '../../src/policy.ts';

const T0 = Date.parse('2026-11-21T10:07:00Z');
const MIN = 60_000;
const hourAligned: PolicyConfig = {
  deletePolicy: 'hour-aligned',
  billingGuardMs: 10 * MIN,
  billingAnchor: 'endpoint-creation',
};
const immediate: PolicyConfig = { ...hourAligned, deletePolicy: 'immediate' };
const clockHour: PolicyConfig = { ...hourAligned, billingAnchor: 'clock-hour' };

type Row = [
  name: string,
  status: string | undefined,
  minutesAfterCreate: number,
  leaseMinutesLeft: number | undefined,
  tasks: number,
  demand: boolean,
  config: PolicyConfig,
  expected: Partial<Action>,
];

const rows: Row[] = [
  // acquire (demand)
  ['no stack, demand -> create', undefined, 0, 5, 0, true, hourAligned, { kind: 'create' }],
  [
    'creating, demand -> wait',
    'CREATE_IN_PROGRESS',
    1,
    5,
    0,
    true,
    hourAligned,
    { kind: 'wait', reason: 'in-progress' },
  ],
  [
    'deleting, demand -> wait for deletion',
    'DELETE_IN_PROGRESS',
    59,
    5,
    0,
    true,
    hourAligned,
    { kind: 'wait', reason: 'deleting' },
  ],
  [
    'rolled back, demand -> delete (replace)',
    'ROLLBACK_COMPLETE',
    3,
    5,
    0,
    true,
    hourAligned,
    { kind: 'delete', reason: 'failed' },
  ],
  [
    'delete failed, demand -> delete again',
    'DELETE_FAILED',
    3,
    5,
    0,
    true,
    hourAligned,
    { kind: 'delete', reason: 'failed' },
  ],
  ['complete, demand -> use', 'CREATE_COMPLETE', 58, undefined, 0, true, hourAligned, { kind: 'use' }],
  ['deleted stack counts as absent', 'DELETE_COMPLETE', 0, 5, 0, true, hourAligned, { kind: 'create' }],
  // reaper (no demand), hour-aligned
  ['no stack -> none', undefined, 0, undefined, 0, false, hourAligned, { kind: 'none' }],
  ['creating -> wait', 'CREATE_IN_PROGRESS', 2, undefined, 0, false, hourAligned, { kind: 'wait' }],
  [
    'unknown status -> wait, never delete',
    'REVIEW_IN_PROGRESS',
    55,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'wait' },
  ],
  [
    'running task at hour end -> keep',
    'CREATE_COMPLETE',
    55,
    undefined,
    1,
    false,
    hourAligned,
    { kind: 'keep', reason: 'tasks' },
  ],
  [
    'active lease at hour end -> keep',
    'CREATE_COMPLETE',
    55,
    1,
    0,
    false,
    hourAligned,
    { kind: 'keep', reason: 'lease' },
  ],
  ['lease and task at hour end -> keep', 'CREATE_COMPLETE', 55, 1, 2, false, hourAligned, { kind: 'keep' }],
  [
    'idle early in the hour -> keep (paid)',
    'CREATE_COMPLETE',
    20,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'keep', reason: 'hour-paid', until: T0 + 50 * MIN },
  ],
  [
    'idle, expired lease, early -> keep (paid)',
    'CREATE_COMPLETE',
    20,
    -5,
    0,
    false,
    hourAligned,
    { kind: 'keep', reason: 'hour-paid' },
  ],
  [
    'idle just before the guard -> keep',
    'CREATE_COMPLETE',
    49.99,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'keep' },
  ],
  [
    'idle at the guard -> delete',
    'CREATE_COMPLETE',
    50,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'delete', reason: 'idle-hour-ending' },
  ],
  [
    'idle inside the guard -> delete',
    'CREATE_COMPLETE',
    59.9,
    -1,
    0,
    false,
    hourAligned,
    { kind: 'delete', reason: 'idle-hour-ending' },
  ],
  [
    'idle in the 3rd hour, early -> keep',
    'CREATE_COMPLETE',
    125,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'keep', until: T0 + 170 * MIN },
  ],
  [
    'idle in the 26th hour, late (days count) -> delete',
    'CREATE_COMPLETE',
    25 * 60 + 55,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'delete' },
  ],
  [
    'rolled back and idle -> delete',
    'ROLLBACK_COMPLETE',
    5,
    undefined,
    0,
    false,
    hourAligned,
    { kind: 'delete', reason: 'failed' },
  ],
  [
    'failed with a running task -> keep',
    'UPDATE_ROLLBACK_FAILED',
    5,
    undefined,
    1,
    false,
    hourAligned,
    { kind: 'keep', reason: 'tasks' },
  ],
  // immediate
  [
    'immediate: idle early -> delete',
    'CREATE_COMPLETE',
    1,
    undefined,
    0,
    false,
    immediate,
    { kind: 'delete', reason: 'idle' },
  ],
  [
    'immediate: lease -> keep',
    'CREATE_COMPLETE',
    1,
    2,
    0,
    false,
    immediate,
    { kind: 'keep', reason: 'lease' },
  ],
  [
    'immediate: task -> keep',
    'CREATE_COMPLETE',
    1,
    undefined,
    1,
    false,
    immediate,
    { kind: 'keep', reason: 'tasks' },
  ],
  // clock-hour anchor: created 10:07, hour ends 11:00, guard from 10:50
  [
    'clock hour: 10:45 idle -> keep until 10:50',
    'CREATE_COMPLETE',
    38,
    undefined,
    0,
    false,
    clockHour,
    { kind: 'keep', until: Date.parse('2026-11-21T10:50:00Z') },
  ],
  [
    'clock hour: 10:52 idle -> delete',
    'CREATE_COMPLETE',
    45,
    undefined,
    0,
    false,
    clockHour,
    { kind: 'delete' },
  ],
];

describe('decide', () => {
  it.each(rows)('%s', (_name, status, minutes, leaseLeft, tasks, demand, config, expected) => {
    const now = T0 + minutes * MIN;
    const action = decide(
      {
        stack: status === undefined ? undefined : { status, createdAt: T0 },
        leaseUntil: leaseLeft === undefined ? undefined : now + leaseLeft * MIN,
        activeTasks: tasks,
        demand,
      },
      now,
      config,
    );
    expect(action).toMatchObject(expected);
  });
});

describe('billing arithmetic', () => {
  it('counts a partial hour as a full hour and whole days correctly', () => {
    expect(billedHours(T0, T0 + 1)).toBe(1);
    expect(billedHours(T0, T0 + 60 * MIN)).toBe(1);
    expect(billedHours(T0, T0 + 60 * MIN + 1)).toBe(2);
    expect(billedHours(T0, T0 + 49 * 60 * MIN)).toBe(49);
  });

  it('ends the billed hour relative to the anchor', () => {
    expect(billedHourEnd(T0, T0 + 61 * MIN, 'endpoint-creation')).toBe(T0 + 120 * MIN);
    expect(billedHourEnd(T0, T0 + 61 * MIN, 'clock-hour')).toBe(Date.parse('2026-11-21T12:00:00Z'));
  });

  it('classifies stack statuses by string', () => {
    expect(stackPhase('CREATE_COMPLETE')).toBe('stable');
    expect(stackPhase('UPDATE_ROLLBACK_COMPLETE')).toBe('stable');
    expect(stackPhase('DELETE_IN_PROGRESS')).toBe('deleting');
    expect(stackPhase('ROLLBACK_IN_PROGRESS')).toBe('in-progress');
    expect(stackPhase('CREATE_FAILED')).toBe('failed');
    expect(stackPhase(undefined)).toBe('absent');
  });
});
