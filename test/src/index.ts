import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const eventsDir = resolve(import.meta.dirname, '../events');

export type EventName =
  | 'autoscaling/launch'
  | 'autoscaling/launch-legacy'
  | 'autoscaling/launch-to-warm-pool'
  | 'autoscaling/launch-from-warm-pool'
  | 'autoscaling/terminate'
  | 'cloudformation/create'
  | 'cloudformation/update'
  | 'cloudformation/delete'
  | 'scheduler/scheduled';

// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON that tests reshape freely
export type Json = any;

/** A fresh copy of a documented AWS event shape from test/events/<name>.json. */
export function loadEvent(name: EventName): Json {
  return JSON.parse(readFileSync(resolve(eventsDir, `${name}.json`), 'utf8'));
}

export interface LifecycleOverrides {
  instanceId?: string;
  token?: string;
  groupName?: string;
  hookName?: string;
  origin?: string;
  destination?: string;
}

/** A launch or terminate lifecycle event with the given identifiers. */
export function lifecycleEvent(kind: 'launch' | 'terminate', overrides: LifecycleOverrides = {}): Json {
  const event = loadEvent(kind === 'launch' ? 'autoscaling/launch' : 'autoscaling/terminate');
  const d = event.detail;
  if (overrides.instanceId) d.EC2InstanceId = overrides.instanceId;
  if (overrides.token) d.LifecycleActionToken = overrides.token;
  if (overrides.groupName) {
    d.AutoScalingGroupName = overrides.groupName;
    event.resources = [
      event.resources[0].replace(/autoScalingGroupName\/.*$/, `autoScalingGroupName/${overrides.groupName}`),
    ];
  }
  if (overrides.hookName) d.LifecycleHookName = overrides.hookName;
  if (overrides.origin) d.Origin = overrides.origin;
  if (overrides.destination) d.Destination = overrides.destination;
  return event;
}

/** A fake Lambda context whose remaining time counts down from `remainingMs`. */
export function fakeContext(remainingMs = 60_000, now: () => number = Date.now) {
  const start = now();
  return {
    functionName: 'netkit-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:netkit-test',
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    logGroupName: '/aws/lambda/netkit-test',
    logStreamName: '2026/11/21/[$LATEST]abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, remainingMs - (now() - start)),
    done() {},
    fail() {},
    succeed() {},
  };
}

/** A manual clock for deterministic waits: `sleep` advances time instantly. */
export function manualClock(start = Date.parse('2026-11-21T10:00:00Z')) {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) return;
      sleeps.push(ms);
      t += ms;
      await Promise.resolve();
    },
  };
}
