import { isLeavingGroup } from '@netkit/aws-core/lifecycle';
import type { HookRun } from '@netkit/aws-core/lifecycle-hook';
import type { HandlerOutcome } from '@netkit/aws-core/outcome';
import type { Config } from './config.ts';
import type { CoreDeps } from './read-pool.ts';
import { release } from './release.ts';

/** The pool ENIs this call detached (none on a redelivery), or why nothing was to be done. */
export type TerminateOutcome = { instanceId: string; result: 'CONTINUE' } & (
  | (HandlerOutcome<'done'> & { action: 'detached'; networkInterfaceIds: string[] })
  | (HandlerOutcome<'skipped'> & { reason: string })
);

/** Terminate: detach the instance's pool ENIs early, so that a replacement launch can take them. */
export async function releaseOnTerminate(
  run: HookRun,
  core: CoreDeps,
  config: Config,
): Promise<TerminateOutcome> {
  const { instanceId } = run.action;
  if (!config.detachOnTerminate || !isLeavingGroup(run.action)) {
    const reason = config.detachOnTerminate ? 'not leaving the group' : 'DETACH_ON_TERMINATE=false';
    return { status: 'skipped', instanceId, reason, result: 'CONTINUE' };
  }
  const detached = await release(instanceId, config, core, run.deadlines.work);
  run.count('PoolEnisReleased', detached.length);
  const networkInterfaceIds = detached.map((e) => e.networkInterfaceId);
  return { status: 'done', action: 'detached', instanceId, networkInterfaceIds, result: 'CONTINUE' };
}
