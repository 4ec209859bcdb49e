import { createHash, randomUUID } from 'node:crypto';
import {
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { describeError, echo, ValidationError } from '@netkit/aws-core/errors';
import { awsCall, Deadline } from '@netkit/aws-core/retry';
import { hasAllTags, tagFilters, toTagList } from '@netkit/aws-core/tags';
import { isValidHostname } from './hostname.ts';
import { subnetAddressProblem } from './ip.ts';
import {
  byPrivateIp,
  type CoreDeps,
  callOptions,
  describeEnis,
  type PoolEni,
  toPoolEni,
} from './read-pool.ts';

/** `runId` identifies one CLI run in the ClientTokens (default: a random UUID). */
export type PoolDeps = CoreDeps & { runId?: string };

interface CreatePoolInput {
  subnetId: string;
  /** Addresses in order; `{n}` in the hostname pattern is the 1-based position. */
  ips: string[];
  /** e.g. `server-a{n}`; `{n}` position in the range, `{last}` last octet of the address. */
  hostnamePattern?: string;
  securityGroupIds?: string[];
  tags: Record<string, string>;
  hostnameTag: string;
  description?: string;
  dryRun?: boolean;
}

/** A pool ENI as a line of output; `action`: what `create` did for the address. */
export type PoolRow = Omit<PoolEni, 'attachment'> & {
  instanceId?: string;
  action?: 'created' | 'exists' | 'would-create';
};

/** The pattern's host name for each address, each checked valid and distinct (before any AWS call). */
function hostnamesFor(pattern: string, ips: string[]): string[] {
  const names = ips.map((ip, i) =>
    pattern.replaceAll('{n}', `${i + 1}`).replaceAll('{last}', ip.split('.')[3]!),
  );
  const bad = names.find((n) => !isValidHostname(n));
  if (bad !== undefined)
    throw new ValidationError(`--hostname-pattern gives ${echo(bad)}, not a valid host name`);
  if (new Set(names).size !== names.length)
    throw new ValidationError(
      `--hostname-pattern ${echo(pattern)} gives the same name twice; use {n} or {last}`,
    );
  return names;
}

/** One ClientToken per run and address: reused across runs it returns deleted ENIs (README, Pool CLI). */
export function clientToken(runId: string, subnetId: string, ip: string): string {
  return createHash('sha256')
    .update(JSON.stringify([runId, subnetId, ip]))
    .digest('hex');
}

function row({ attachment, ...eni }: PoolEni, action?: PoolRow['action']): PoolRow {
  return { ...eni, instanceId: attachment?.instanceId, action };
}

/** One pool ENI per address, all checked first; idempotent, and undone when a create fails. */
export async function createPool(input: CreatePoolInput, deps: PoolDeps): Promise<PoolRow[]> {
  const deadline = Deadline.in(300_000, deps.clock);
  const runId = deps.runId ?? randomUUID();
  const hostnames = input.hostnamePattern === undefined ? [] : hostnamesFor(input.hostnamePattern, input.ips);
  const availabilityZone = await checkSubnet(input, deps, deadline);
  const existing = await existingInterfaces(input, deps, deadline);
  const rows: PoolRow[] = [];
  const created: string[] = [];
  try {
    for (const [index, ip] of input.ips.entries()) {
      const found = existing.get(ip);
      if (found) {
        rows.push(row(found, 'exists'));
        continue;
      }
      const hostname = hostnames[index];
      if (input.dryRun) {
        const planned = { networkInterfaceId: '-', privateIp: ip, availabilityZone, status: 'available' };
        rows.push({ ...planned, hostname, action: 'would-create' });
        continue;
      }
      const eni = await createInterface(input, deps, deadline, { runId, ip, hostname });
      created.push(eni.networkInterfaceId);
      rows.push(row(eni, 'created'));
    }
  } catch (error) {
    await deleteCreated(created, deps, deadline, error);
    throw error;
  }
  return rows;
}

/** The subnet's AZ, after checking it exists and holds every address. */
async function checkSubnet(input: CreatePoolInput, deps: PoolDeps, deadline: Deadline): Promise<string> {
  const command = new DescribeSubnetsCommand({ SubnetIds: [input.subnetId] });
  const subnets = await awsCall('DescribeSubnets', () => deps.ec2.send(command), callOptions(deps, deadline));
  const subnet = subnets.Subnets?.[0];
  if (subnet?.CidrBlock === undefined || subnet.AvailabilityZone === undefined)
    throw new ValidationError(`Subnet ${input.subnetId} not found`);
  const cidr = subnet.CidrBlock;
  const problems = input.ips.flatMap((ip) => subnetAddressProblem(ip, cidr) ?? []);
  if (problems.length > 0) throw new ValidationError(`--ip-range: ${problems.join('; ')}`);
  return subnet.AvailabilityZone;
}

/** Interfaces already at the addresses, by IP; refuses addresses used outside the pool. */
async function existingInterfaces(input: CreatePoolInput, deps: PoolDeps, deadline: Deadline) {
  const existing = new Map<string, PoolEni>();
  const outside: string[] = [];
  for (let i = 0; i < input.ips.length; i += 200) {
    const Values = input.ips.slice(i, i + 200);
    const Filters = [
      { Name: 'subnet-id', Values: [input.subnetId] },
      { Name: 'addresses.private-ip-address', Values },
    ];
    for (const ni of await describeEnis(deps, deadline, { Filters })) {
      const eni = toPoolEni(ni, input.hostnameTag);
      existing.set(eni.privateIp, eni);
      if (!hasAllTags(ni.TagSet, input.tags)) outside.push(`${eni.privateIp} (${eni.networkInterfaceId})`);
    }
  }
  if (outside.length > 0)
    throw new ValidationError(`Addresses already used by interfaces outside the pool: ${outside.join(', ')}`);
  return existing;
}

/** One pool ENI at `ip`, tagged (idempotent through the client token). */
async function createInterface(
  input: CreatePoolInput,
  deps: PoolDeps,
  deadline: Deadline,
  { runId, ip, hostname }: { runId: string; ip: string; hostname: string | undefined },
): Promise<PoolEni> {
  const tags = hostname === undefined ? input.tags : { ...input.tags, [input.hostnameTag]: hostname };
  const command = new CreateNetworkInterfaceCommand({
    SubnetId: input.subnetId,
    PrivateIpAddress: ip,
    Groups: input.securityGroupIds,
    Description: input.description ?? `netkit eni-pool ${hostname ?? ip}`,
    ClientToken: clientToken(runId, input.subnetId, ip),
    TagSpecifications: [{ ResourceType: 'network-interface', Tags: toTagList(tags) }],
  });
  const options = callOptions(deps, deadline);
  const ni = (await awsCall('CreateNetworkInterface', () => deps.ec2.send(command), options))
    .NetworkInterface;
  if (ni?.NetworkInterfaceId === undefined)
    throw new Error(`CreateNetworkInterface for ${ip} returned no interface`);
  deps.logger.info('Created pool ENI', {
    networkInterfaceId: ni.NetworkInterfaceId,
    privateIp: ip,
    hostname,
  });
  return toPoolEni({ ...ni, TagSet: ni.TagSet?.length ? ni.TagSet : toTagList(tags) }, input.hostnameTag);
}

/** A failed run leaves nothing behind: delete the ENIs it created. */
async function deleteCreated(created: string[], deps: PoolDeps, deadline: Deadline, error: unknown) {
  const { logger } = deps;
  logger.error('Creating the pool failed; deleting the ENIs this run created', {
    error: describeError(error),
    created,
  });
  for (const networkInterfaceId of created) {
    const command = new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: networkInterfaceId });
    await awsCall('DeleteNetworkInterface', () => deps.ec2.send(command), callOptions(deps, deadline)).catch(
      (e: unknown) =>
        logger.error('Could not delete a created ENI; delete it by hand', {
          networkInterfaceId,
          error: describeError(e),
        }),
    );
  }
}

/** Every ENI of the pool (server-side tag filter), by AZ then private IP. */
export async function poolStatus(tags: Record<string, string>, hostnameTag: string, deps: PoolDeps) {
  const enis = await describeEnis(deps, Deadline.in(120_000, deps.clock), { Filters: tagFilters(tags) });
  return enis
    .map((ni) => toPoolEni(ni, hostnameTag))
    .sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone) || byPrivateIp(a, b))
    .map((eni) => row(eni));
}

/** A plain text table. */
export function formatTable(rows: PoolRow[], withAction: boolean): string {
  const columns = ['ENI', 'IP', 'AZ', 'STATE', 'INSTANCE', 'HOSTNAME', ...(withAction ? ['ACTION'] : [])];
  const lines = rows.map((r) => [
    r.networkInterfaceId,
    r.privateIp,
    r.availabilityZone,
    r.status,
    r.instanceId ?? '-',
    r.hostname ?? '-',
    ...(withAction ? [r.action ?? '-'] : []),
  ]);
  const widths = columns.map((c, i) => Math.max(c.length, ...lines.map((l) => (l[i] ?? '').length)));
  const line = (l: string[]) => l.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ');
  return [columns, ...lines].map((l) => line(l).trimEnd()).join('\n');
}
