import { type Filter, type Instance, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { awsCall, type Deadline } from '@netkit/aws-core/retry';
import { fromTagList } from '@netkit/aws-core/tags';
import type { Launch } from './claim-order.ts';
import { InstanceNotFoundError } from './errors.ts';
import { type CoreDeps, callOptions, whileUnlisted } from './read-pool.ts';

/** The tag Auto Scaling puts on every instance of a group (at launch, with the instance). */
const GROUP_TAG = 'aws:autoscaling:groupName';

/** The instance and its group's launches in its AZ (the agent finds the group by the instance's tag). */
export function readLaunches(
  deps: CoreDeps,
  instanceId: string,
  groupName: string | undefined,
  deadline: Deadline,
) {
  const look = () => describeLaunches(deps, instanceId, groupName, deadline);
  return whileUnlisted(look, deps, instanceId, deadline);
}

/** The group's launches in the AZ again (none to list for an instance outside a group). */
export async function relistLaunches(deps: CoreDeps, view: LaunchView, deadline: Deadline) {
  if (view.groupName === undefined) return undefined;
  const listed = await describeGroup(deps, view.groupName, view.availabilityZone, deadline);
  return listed.map(toLaunch);
}

/** One look at the instance and its group's launches; undefined while EC2 does not list it. */
async function describeLaunches(
  deps: CoreDeps,
  instanceId: string,
  groupName: string | undefined,
  deadline: Deadline,
): Promise<LaunchView | undefined> {
  if (groupName !== undefined) {
    const listed = await describeGroup(deps, groupName, undefined, deadline);
    const self = listed.find((i) => i.InstanceId === instanceId);
    const az = self?.Placement?.AvailabilityZone;
    if (self !== undefined && az !== undefined) return toLaunchView(self, listed, az);
  }
  const described = await describeInstances(deps, deadline, [{ Name: 'instance-id', Values: [instanceId] }]);
  const self = described.find((i) => i.InstanceId === instanceId);
  const az = self?.Placement?.AvailabilityZone;
  if (self === undefined || az === undefined) return undefined;
  const state = self.State?.Name ?? '';
  if (state === 'shutting-down' || state === 'terminated')
    throw new InstanceNotFoundError(`Instance ${instanceId} is ${state}`);
  const group = fromTagList(self.Tags)[GROUP_TAG];
  const listed = group === undefined ? [self] : await describeGroup(deps, group, az, deadline);
  return toLaunchView(self, listed, az);
}

/** The group's pending and running instances (in one AZ when given): its live launches. */
function describeGroup(deps: CoreDeps, group: string, az: string | undefined, deadline: Deadline) {
  const filters = [
    { Name: `tag:${GROUP_TAG}`, Values: [group] },
    { Name: 'instance-state-name', Values: ['pending', 'running'] },
  ];
  if (az !== undefined) filters.push({ Name: 'availability-zone', Values: [az] });
  return describeInstances(deps, deadline, filters);
}

function describeInstances(deps: CoreDeps, deadline: Deadline, Filters: Filter[]) {
  const list = async () => {
    const out: Instance[] = [];
    for await (const page of paginateDescribeInstances({ client: deps.ec2, pageSize: 1000 }, { Filters }))
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    return out;
  };
  return awsCall('DescribeInstances', list, callOptions(deps, deadline));
}

function toLaunch(instance: Instance): Launch {
  return { instanceId: instance.InstanceId ?? '', launchTime: instance.LaunchTime?.getTime() ?? 0 };
}

/** This instance, its interfaces (id -> device index) and its group's live launches in the AZ. */
export type LaunchView = ReturnType<typeof toLaunchView>;

function toLaunchView(self: Instance, listed: Instance[], availabilityZone: string) {
  const interfaces = new Map<string, number>();
  for (const { NetworkInterfaceId: id, Attachment: a } of self.NetworkInterfaces ?? [])
    if (id !== undefined && a?.DeviceIndex !== undefined) interfaces.set(id, a.DeviceIndex);
  return {
    self: toLaunch(self),
    availabilityZone,
    groupName: fromTagList(self.Tags)[GROUP_TAG],
    interfaces,
    launches: listed.filter((i) => i.Placement?.AvailabilityZone === availabilityZone).map(toLaunch),
  };
}
