import {
  DescribeInstancesCommand,
  type Instance,
  type InstanceNetworkInterface,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { isNotFoundError } from '@netkit/aws-core/errors';
import { AbandonError } from './errors.ts';
import type { LaunchProgress } from './launch-progress.ts';
import { eniDescription } from './naming.ts';

const GONE_STATES = new Set(['shutting-down', 'terminated']);
/** How long DescribeInstances may take to see a new instance (EC2 eventual consistency). */
const INSTANCE_VISIBLE_WITHIN_MS = 15_000;

/** The launching instance; AbandonError when it is gone or never shows. */
export async function describeInstance(p: LaunchProgress): Promise<Instance> {
  const { run, instanceId } = p;
  let instance: Instance | undefined;
  try {
    const send = () => p.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const visible = run.deadlines.work.within(INSTANCE_VISIBLE_WITHIN_MS);
    const out = await run.call('DescribeInstances', send, ['InvalidInstanceID.NotFound'], visible);
    instance = out.Reservations?.[0]?.Instances?.[0];
  } catch (error) {
    if (!isNotFoundError(error)) throw error;
  }
  if (!instance) throw new AbandonError(`instance ${instanceId} does not exist (terminated?)`);
  const state = instance.State?.Name;
  if (state && GONE_STATES.has(state)) throw new AbandonError(`instance ${instanceId} is ${state}`);
  return instance;
}

/**
 * The interface at `deviceIndex` when eni-attach did not create it: not in `own` and without our
 * description (`own` may predate a concurrent delivery's create, which the instance lists first).
 */
export function foreignAt(
  p: LaunchProgress,
  instance: Instance,
  deviceIndex: number,
  own: readonly NetworkInterface[],
): InstanceNetworkInterface | undefined {
  const occupant = instance.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === deviceIndex);
  if (!occupant || own.some((e) => e.NetworkInterfaceId === occupant.NetworkInterfaceId)) return undefined;
  const ours = eniDescription(p.instanceId, deviceIndex, p.run.action.groupName);
  return occupant.Description === ours ? undefined : occupant;
}
