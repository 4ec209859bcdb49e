import {
  type Address,
  DescribeAddressesCommand,
  type EC2Client,
  type Filter,
  type InternetGateway,
  type NatGateway,
  paginateDescribeInternetGateways,
  paginateDescribeNatGateways,
  paginateDescribeRouteTables,
  type RouteTable,
  type Tag,
} from '@aws-sdk/client-ec2';
import { echo, ValidationError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import type { Clock, Deadline } from '@netkit/aws-core/retry';
import { type CallContext, call, stepFailed } from './call.ts';
import type { ReapSpec } from './properties.ts';
import { joinCapped } from './reap-data.ts';

export interface ReapDeps {
  ec2: EC2Client;
  clock: Clock;
  logger: Logger;
}

export interface InspectOptions {
  deadline: Deadline;
  /** Aborted once the runner has answered: stop before the next mutation. */
  signal?: AbortSignal;
  /** Every resource the plan changes must carry `netkit:reapable` with this value. */
  reapableTagValue: string;
}

const DESTINATION_FIELDS = [
  'DestinationCidrBlock',
  'DestinationIpv6CidrBlock',
  'DestinationPrefixListId',
] as const;
type DestinationField = (typeof DESTINATION_FIELDS)[number];

export interface PlannedRoute {
  routeTableId: string;
  field: DestinationField;
  destination: string;
  target: string;
}

/** What a Create/Update will do, computed with Describe calls only. */
export interface Plan {
  vpcId: string;
  routes: PlannedRoute[];
  /** pending/available: DeleteNatGateway, then wait. */
  natGatewaysToDelete: string[];
  /** The ones above plus those already `deleting`. */
  natGatewaysToWaitFor: string[];
  eipsToRelease: string[];
  internetGateway: { id: string; attached: boolean } | undefined;
  alreadyGone: string[];
  /** Route tables of the VPC, not listed in RouteTableIds, that still route to a reaped gateway. */
  unlistedRouteTables: string[];
}

/** The IAM policy's condition key names it, so it is fixed. */
const REAPABLE_TAG_KEY = 'netkit:reapable';

export const NAT_GONE_STATES = new Set(['deleted', 'failed']);

const tagValue = (tags: Tag[] | undefined) => tags?.find((t) => t.Key === REAPABLE_TAG_KEY)?.Value;
const idFilter = (name: string, values: string[]): Filter[] => [{ Name: name, Values: values }];

async function collect<P, T>(pages: AsyncIterable<P>, items: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(items(page) ?? []));
  return out;
}

// Filters (not id lists) throughout: an id that no longer exists is absent instead of failing the call.
export const describeNats = (ec2: EC2Client, ids: string[]) =>
  collect(
    paginateDescribeNatGateways({ client: ec2 }, { Filter: idFilter('nat-gateway-id', ids) }),
    (p) => p.NatGateways,
  );

const describeRouteTables = (ec2: EC2Client, filters: Filter[]) =>
  collect(paginateDescribeRouteTables({ client: ec2 }, { Filters: filters }), (p) => p.RouteTables);

const describeIgws = (ec2: EC2Client, id: string) =>
  collect(
    paginateDescribeInternetGateways({ client: ec2 }, { Filters: idFilter('internet-gateway-id', [id]) }),
    (p) => p.InternetGateways,
  );

/** Not paginated. */
async function describeAddresses(ec2: EC2Client, allocationIds: string[]): Promise<Address[]> {
  const filters = idFilter('allocation-id', allocationIds);
  return (await ec2.send(new DescribeAddressesCommand({ Filters: filters }))).Addresses ?? [];
}

function routeDestination(route: Partial<Record<DestinationField, string>>) {
  const field = DESTINATION_FIELDS.find((f) => route[f]);
  return field === undefined ? undefined : { field, destination: route[field] as string };
}

/** What `inspect` collects while it reads, before it turns it into a Plan or refuses. */
interface PlanDraft extends Pick<Plan, 'alreadyGone' | 'natGatewaysToDelete' | 'natGatewaysToWaitFor'> {
  /** Named resources of another VPC: the plan is refused. */
  foreign: string[];
  /** Listed route tables that do not exist: the plan is refused (ADR 0088). */
  missingTables: string[];
  /** Every resource the plan changes (or waits for), with its netkit:reapable value. */
  tagsOf: Map<string, { what: string; value: string | undefined }>;
  /** allocation id -> the NAT's network interface holding it */
  natAddresses: Map<string, { nat: string; eni: string | undefined }>;
}

type Read = <T>(step: string, fn: () => Promise<T>) => Promise<T>;

/** Read-only: refuses (ValidationError) unless everything named is the VPC's and tagged; else the plan. */
export async function inspect(spec: ReapSpec, deps: ReapDeps, options: InspectOptions): Promise<Plan> {
  const ctx: CallContext = { ...deps, deadline: options.deadline, signal: options.signal };
  const read: Read = (step, fn) =>
    call(ctx, step, fn).catch((error: unknown) => {
      throw stepFailed(`inspect (${step})`, error);
    });
  const draft: PlanDraft = {
    foreign: [],
    alreadyGone: [],
    missingTables: [],
    natGatewaysToDelete: [],
    natGatewaysToWaitFor: [],
    tagsOf: new Map(),
    natAddresses: new Map(),
  };
  const inventory = await readInventory(spec, deps.ec2, read);
  planNatGateways(spec, inventory.nats, draft);
  const eipsToRelease = await planEips(spec, deps.ec2, read, draft);
  const routes = planRoutes(spec, inventory.tables, draft);
  const internetGateway = planInternetGateway(spec, inventory.igws, draft);
  refuseForeignOrUntagged(spec, draft, options.reapableTagValue);
  return {
    vpcId: spec.vpcId,
    routes,
    natGatewaysToDelete: draft.natGatewaysToDelete,
    natGatewaysToWaitFor: draft.natGatewaysToWaitFor,
    eipsToRelease,
    internetGateway,
    alreadyGone: draft.alreadyGone,
    unlistedRouteTables: unlistedRouteTables(spec, inventory.routing),
  };
}

/** The independent Describe calls run concurrently: fewer round trips before the first mutation. */
async function readInventory(spec: ReapSpec, ec2: EC2Client, read: Read) {
  const none = Promise.resolve([]);
  const { natGatewayIds, routeTableIds, internetGatewayId: igw } = spec;
  const natsRead =
    natGatewayIds.length > 0 ? read('DescribeNatGateways', () => describeNats(ec2, natGatewayIds)) : none;
  const tablesRead =
    routeTableIds.length > 0
      ? read('DescribeRouteTables', () => describeRouteTables(ec2, idFilter('route-table-id', routeTableIds)))
      : none;
  const igwRead = igw !== undefined ? read('DescribeInternetGateways', () => describeIgws(ec2, igw)) : none;
  const gatewayFilters: Filter[][] = [];
  if (natGatewayIds.length > 0) gatewayFilters.push(idFilter('route.nat-gateway-id', natGatewayIds));
  if (igw !== undefined) gatewayFilters.push(idFilter('route.gateway-id', [igw]));
  const inVpc = idFilter('vpc-id', [spec.vpcId]);
  const routingOf = (to: Filter[]) =>
    read('DescribeRouteTables', () => describeRouteTables(ec2, [...inVpc, ...to]));
  const routingRead = Promise.all(gatewayFilters.map(routingOf));
  const [nats, tables, igws, routing] = await Promise.all([natsRead, tablesRead, igwRead, routingRead]);
  return { nats, tables, igws, routing: routing.flat() };
}

/** The listed resources found in the VPC, in order; a missing id goes to `missing`, a foreign one to the draft. */
function* listedInVpc<T extends { VpcId?: string | undefined }>(
  spec: ReapSpec,
  draft: PlanDraft,
  kind: string,
  ids: string[],
  found: Map<string | undefined, T>,
  missing: string[],
): Generator<[string, T]> {
  for (const id of ids) {
    const item = found.get(id);
    if (item === undefined) missing.push(id);
    else if (item.VpcId === spec.vpcId) yield [id, item];
    else draft.foreign.push(`${kind} ${id} is in ${item.VpcId ?? 'another VPC'}`);
  }
}

/** The named NAT gateways: to delete, to wait for, or gone; and the addresses they hold. */
function planNatGateways(spec: ReapSpec, nats: NatGateway[], draft: PlanDraft): void {
  const found = new Map(nats.map((n) => [n.NatGatewayId, n]));
  const listed = listedInVpc(spec, draft, 'NAT gateway', spec.natGatewayIds, found, draft.alreadyGone);
  for (const [id, nat] of listed) {
    const state = nat.State ?? 'available';
    if (NAT_GONE_STATES.has(state)) draft.alreadyGone.push(id);
    else {
      draft.tagsOf.set(id, { what: `NAT gateway ${id}`, value: tagValue(nat.Tags) });
      if (state !== 'deleting') draft.natGatewaysToDelete.push(id);
      draft.natGatewaysToWaitFor.push(id);
    }
    for (const address of nat.NatGatewayAddresses ?? []) {
      if (address.AllocationId) {
        draft.natAddresses.set(address.AllocationId, { nat: id, eni: address.NetworkInterfaceId });
      }
    }
  }
}

/** With ReleaseEips, the NATs' Elastic IPs that are still theirs (or free): to release. */
async function planEips(spec: ReapSpec, ec2: EC2Client, read: Read, draft: PlanDraft): Promise<string[]> {
  const eipsToRelease: string[] = [];
  if (!spec.releaseEips || draft.natAddresses.size === 0) return eipsToRelease;
  const addresses = await read('DescribeAddresses', () =>
    describeAddresses(ec2, [...draft.natAddresses.keys()]),
  );
  for (const [allocationId, owner] of draft.natAddresses) {
    const address = addresses.find((a) => a.AllocationId === allocationId);
    if (address === undefined) {
      draft.alreadyGone.push(allocationId);
    } else if (
      address.AssociationId &&
      (owner.eni === undefined || address.NetworkInterfaceId !== owner.eni)
    ) {
      // The NAT let go of it and something else took it since: not ours to release.
      const holder = address.NetworkInterfaceId ?? address.InstanceId ?? 'another resource';
      draft.foreign.push(`EIP ${allocationId} (from ${owner.nat}) is now associated with ${holder}`);
    } else {
      eipsToRelease.push(allocationId);
      draft.tagsOf.set(allocationId, {
        what: `EIP ${allocationId} (of ${owner.nat})`,
        value: tagValue(address.Tags),
      });
    }
  }
  return eipsToRelease;
}

/** The routes of the listed tables that point at a reaped gateway (not the table's local route). */
function planRoutes(spec: ReapSpec, tables: RouteTable[], draft: PlanDraft): PlannedRoute[] {
  const targets = new Set(spec.natGatewayIds);
  if (spec.internetGatewayId) targets.add(spec.internetGatewayId);
  const routes: PlannedRoute[] = [];
  // A listed table that does not exist is a mistake, never "already gone" (ADR 0088).
  const found = new Map(tables.map((t) => [t.RouteTableId, t]));
  const listed = listedInVpc(spec, draft, 'route table', spec.routeTableIds, found, draft.missingTables);
  for (const [id, table] of listed) {
    for (const route of table.Routes ?? []) {
      const target = route.NatGatewayId ?? route.GatewayId;
      if (target === undefined || !targets.has(target) || route.Origin === 'CreateRouteTable') continue;
      const destination = routeDestination(route);
      if (destination === undefined) continue;
      routes.push({ routeTableId: id, target, ...destination });
      draft.tagsOf.set(id, { what: `route table ${id}`, value: tagValue(table.Tags) });
    }
  }
  return routes;
}

/** The named internet gateway: to detach (when attached to this VPC) and delete, or gone. */
function planInternetGateway(spec: ReapSpec, [found]: InternetGateway[], draft: PlanDraft) {
  const id = spec.internetGatewayId;
  if (id === undefined) return undefined;
  if (found === undefined) {
    draft.alreadyGone.push(id);
    return undefined;
  }
  const attachments = (found.Attachments ?? []).filter((a) => a.State !== 'detached');
  const elsewhere = attachments.find((a) => a.VpcId !== spec.vpcId);
  if (elsewhere !== undefined) {
    draft.foreign.push(`internet gateway ${id} is attached to ${elsewhere.VpcId}`);
    return undefined;
  }
  draft.tagsOf.set(id, { what: `internet gateway ${id}`, value: tagValue(found.Tags) });
  return { id, attached: attachments.length > 0 };
}

/** One untagged resource refuses the whole plan, so the teardown never ends half-done (ADR 0088). */
function refuseForeignOrUntagged(spec: ReapSpec, draft: PlanDraft, reapableTagValue: string): void {
  const has = (value: string | undefined) =>
    value === undefined ? `has no ${REAPABLE_TAG_KEY} tag` : `has ${REAPABLE_TAG_KEY}=${echo(value, 40)}`;
  const tags = [...draft.tagsOf.values()];
  const untagged = tags.filter((t) => t.value !== reapableTagValue).map((t) => `${t.what} ${has(t.value)}`);
  const problems: string[] = [];
  if (draft.missingTables.length > 0) {
    problems.push(
      `RouteTableIds not found: ${joinCapped(draft.missingTables)} (the reaper never deletes a route table: remove the id, or fix its typo)`,
    );
  }
  if (draft.foreign.length > 0) problems.push(`Not in ${spec.vpcId}: ${draft.foreign.join('; ')}`);
  if (untagged.length > 0) {
    problems.push(`Not tagged ${REAPABLE_TAG_KEY}=${echo(reapableTagValue, 40)}: ${untagged.join('; ')}`);
  }
  if (problems.length > 0) throw new ValidationError(`${problems.join('. ')}. Nothing was changed.`);
}

/** Route tables the user did not list that will be left pointing at a deleted gateway (blackhole). */
function unlistedRouteTables(spec: ReapSpec, routing: RouteTable[]): string[] {
  const ids = routing.map((t) => t.RouteTableId).filter((id): id is string => !!id);
  return [...new Set(ids.filter((id) => !spec.routeTableIds.includes(id)))];
}
