// The seed's algorithm (seeds/002, a Python Lambda), re-expressed in TypeScript as the
// benchmark baseline. Its defects are kept on purpose, because they are what is measured:
// every instance lists the pool and tries it in the same order (first free first), there
// is no read-back, no "already holds an EIP" check (a redelivery associates another EIP),
// errors are swallowed and retried after a fixed sleep until the Lambda times out, and it
// never completes ABANDON. Not used by the package.
import { setTimeout as sleep } from 'node:timers/promises';
import { type AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { AssociateAddressCommand, DescribeAddressesCommand, type EC2Client } from '@aws-sdk/client-ec2';

export interface SeedDeps {
  ec2: EC2Client;
  autoscaling: AutoScalingClient;
  tags: Record<string, string>;
  /** The seed's TRY_INTERVAL (30 s), scaled down by the benchmark. */
  tryIntervalMs: number;
  /** Aborted when the Lambda would time out: Lambda stops the function there, mid-call. */
  signal: AbortSignal;
}

interface SeedEvent {
  detail: {
    LifecycleActionToken: string;
    EC2InstanceId: string;
    LifecycleHookName: string;
    AutoScalingGroupName: string;
  };
}

export class SeedTimeoutError extends Error {
  override name = 'SeedTimeoutError';
}

function checkTime(deps: SeedDeps): void {
  if (deps.signal.aborted) throw new SeedTimeoutError('Task timed out');
}

async function getAvailableEips(deps: SeedDeps): Promise<string[]> {
  checkTime(deps);
  const out = await deps.ec2.send(
    new DescribeAddressesCommand({
      Filters: Object.entries(deps.tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
    }),
    { abortSignal: deps.signal },
  );
  // Python's `'AssociationId' in v or 'InstanceId' in v`; moto sends empty strings where AWS omits.
  return (out.Addresses ?? []).filter((a) => !a.AssociationId && !a.InstanceId).map((a) => a.AllocationId!);
}

async function associateAddress(deps: SeedDeps, instanceId: string): Promise<boolean> {
  const eips = await getAvailableEips(deps);
  if (eips.length === 0) return false;
  for (const eip of eips) {
    checkTime(deps);
    try {
      await deps.ec2.send(
        new AssociateAddressCommand({ AllocationId: eip, InstanceId: instanceId, AllowReassociation: false }),
        { abortSignal: deps.signal },
      );
      return true;
    } catch {
      // print('Warning: ... 割り当て失敗') and try the next one
    }
  }
  return false;
}

export async function seedHandler(event: SeedEvent, deps: SeedDeps): Promise<{ Result: 'CONTINUE' }> {
  const d = event.detail;
  for (;;) {
    let ok = false;
    try {
      ok = await associateAddress(deps, d.EC2InstanceId);
    } catch {
      // print('ERROR: ...')
    }
    checkTime(deps);
    if (ok) {
      await deps.autoscaling.send(
        new CompleteLifecycleActionCommand({
          LifecycleHookName: d.LifecycleHookName,
          AutoScalingGroupName: d.AutoScalingGroupName,
          LifecycleActionToken: d.LifecycleActionToken,
          LifecycleActionResult: 'CONTINUE',
        }),
        { abortSignal: deps.signal },
      );
      return { Result: 'CONTINUE' };
    }
    // time.sleep(TRY_INTERVAL), cut short when the Lambda times out.
    await sleep(deps.tryIntervalMs, undefined, { signal: deps.signal }).catch(() => {
      throw new SeedTimeoutError('Task timed out');
    });
  }
}
