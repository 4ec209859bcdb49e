import {
  type Address,
  DeleteInternetGatewayCommand,
  DeleteNatGatewayCommand,
  DeleteRouteCommand,
  type DeleteRouteCommandInput,
  DescribeAddressesCommand,
  DetachInternetGatewayCommand,
  type EC2Client,
  type Filter,
  type InternetGateway,
  type NatGateway,
  paginateDescribeInternetGateways,
  paginateDescribeNatGateways,
  paginateDescribeRouteTables,
  ReleaseAddressCommand,
  type RouteTable,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  DeadlineExceededError,
  describeError,
  echo,
  isAwsError,
  isTransientError,
  NetkitError,
  ValidationError,
} from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, pollUntil, retryTransient } from '@netkit/aws-core/retry';
import { StepFailedError } from './errors.ts';
import type { ReapSpec } from './properties.ts';

export interface ReapDeps {
  ec2: EC2Client;
  clock: Clock;
  logger: Logger;
}

export interface InspectOptions {
  /** Everything must be done by then (the runner answers FAILED on its own shortly after). */
  deadline: Deadline;
  /** Aborted when the runner has already answered: stop before the next mutation. */
  signal?: AbortSignal;
  /** Every resource the plan changes must carry `netkit:reapable` with this value. */
  reapableTagValue: string;
}

export interface ReapOptions extends InspectOptions {
  /** Longest pause between two polls of a deleting NAT gateway. */
  natPollMaxMs: number;
  /** How long ReleaseAddress is retried on InvalidIPAddress.InUse / AuthFailure. */
  eipReleaseTimeoutMs: number;
}

type DestinationField = 'DestinationCidrBlock' | 'DestinationIpv6CidrBlock' | 'DestinationPrefixListId';

export interface PlannedRoute {
  routeTableId: string;
  field: DestinationField;
  destination: string;
  /** The NAT gateway or internet gateway the route points at. */
  target: string;
}

/** What a Create/Update will do, computed with Describe calls only. */
export interface Plan {
  vpcId: string;
  routes: PlannedRoute[];
  /** NAT gateways in state pending/available: DeleteNatGateway, then wait. */
  natGatewaysToDelete: string[];
  /** NAT gateways to wait for until `deleted` (the ones above plus those already `deleting`). */
  natGatewaysToWaitFor: string[];
  eipsToRelease: string[];
  internetGateway: { id: string; attached: boolean } | undefined;
  /** Named resources that no longer exist (or are already deleted): counted as done. */
  alreadyGone: string[];
  /** Route tables of the VPC, not listed in RouteTableIds, that still route to a reaped gateway. */
  unlistedRouteTables: string[];
}

export interface ReapReport {
  deletedRoutes: string[];
  deletedNatGateways: string[];
  releasedEips: string[];
  detachedInternetGateway: string | undefined;
  deletedInternetGateway: string | undefined;
  alreadyGone: string[];
  unlistedRouteTables: string[];
  /** Time spent waiting for NAT gateways to reach `deleted`. */
  natWaitMs: number;
}

/** The tag every resource to reap must carry (fixed key: the IAM policy's condition key names it). */
export const REAPABLE_TAG_KEY = 'netkit:reapable';

/** Our own errors already say what failed; an AWS or network error gets the step's name. */
const stepFailed = (step: string, error: unknown): unknown =>
  error instanceof NetkitError ? error : new StepFailedError(step, error);

/** Retry settings for throttling, 5xx and network errors, which the SDK gives up on within a second. */
const TRANSIENT_BACKOFF = { baseMs: 250, maxMs: 4_000 };

interface CallContext {
  deadline: Deadline;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal | undefined;
}

/**
 * Run one AWS call through `retryTransient`: throttling, 5xx and network errors (and the call's own
 * `transient` error names) are retried with bounded backoff until the deadline; the last error is
 * thrown unchanged so callers can still match its code. `onRetry` hears the call's own names.
 */
function callWithRetry<T>(
  ctx: CallContext,
  step: string,
  fn: () => Promise<T>,
  transient: readonly string[] = [],
  backoff: { baseMs: number; maxMs: number } = TRANSIENT_BACKOFF,
  onRetry?: (error: unknown, attempt: number) => void,
): Promise<T> {
  return retryTransient(fn, {
    transient,
    deadline: ctx.deadline,
    clock: ctx.clock,
    ...backoff,
    onRetry: (error, attempt, delayMs) => {
      stopIfAborted(ctx.signal);
      if (onRetry !== undefined && !isTransientError(error)) return onRetry(error, attempt);
      ctx.logger.warn('Transient AWS error; retrying', {
        step,
        attempt: attempt + 1,
        delayMs,
        error: describeError(error),
      });
    },
  });
}

const tagValue = (tags: Tag[] | undefined): string | undefined =>
  tags?.find((t) => t.Key === REAPABLE_TAG_KEY)?.Value;

const NAT_GONE_STATES = new Set(['deleted', 'failed']);
const NAT_NOT_FOUND = ['NatGatewayNotFound', 'InvalidNatGatewayID.NotFound'];
/** ReleaseAddress fails with these until the NAT gateway has let go of the address. */
const EIP_TRANSIENT = ['InvalidIPAddress.InUse', 'AuthFailure'];

const idFilter = (name: string, values: string[]): Filter[] => [{ Name: name, Values: values }];
const routeLabel = (r: PlannedRoute) => `${r.routeTableId} ${r.destination}`;

async function describeNats(ec2: EC2Client, ids: string[], ctx: CallContext): Promise<NatGateway[]> {
  return callWithRetry(ctx, 'DescribeNatGateways', () => describeNatsOnce(ec2, ids));
}

async function describeNatsOnce(ec2: EC2Client, ids: string[]): Promise<NatGateway[]> {
  const out: NatGateway[] = [];
  // A filter (not NatGatewayIds) so an id that no longer exists is simply absent instead of failing the call.
  for await (const page of paginateDescribeNatGateways(
    { client: ec2 },
    { Filter: idFilter('nat-gateway-id', ids) },
  )) {
    out.push(...(page.NatGateways ?? []));
  }
  return out;
}

async function describeRouteTables(ec2: EC2Client, filters: Filter[]): Promise<RouteTable[]> {
  const out: RouteTable[] = [];
  for await (const page of paginateDescribeRouteTables({ client: ec2 }, { Filters: filters })) {
    out.push(...(page.RouteTables ?? []));
  }
  return out;
}

async function describeIgws(ec2: EC2Client, id: string): Promise<InternetGateway[]> {
  const out: InternetGateway[] = [];
  for await (const page of paginateDescribeInternetGateways(
    { client: ec2 },
    { Filters: idFilter('internet-gateway-id', [id]) },
  )) {
    out.push(...(page.InternetGateways ?? []));
  }
  return out;
}

async function describeAddresses(ec2: EC2Client, allocationIds: string[]): Promise<Address[]> {
  // DescribeAddresses is not paginated; the filter keeps unknown ids from failing the call.
  const out = await ec2.send(
    new DescribeAddressesCommand({ Filters: idFilter('allocation-id', allocationIds) }),
  );
  return out.Addresses ?? [];
}

function routeDestination(route: {
  DestinationCidrBlock?: string;
  DestinationIpv6CidrBlock?: string;
  DestinationPrefixListId?: string;
}): { field: DestinationField; destination: string } | undefined {
  if (route.DestinationCidrBlock)
    return { field: 'DestinationCidrBlock', destination: route.DestinationCidrBlock };
  if (route.DestinationIpv6CidrBlock) {
    return { field: 'DestinationIpv6CidrBlock', destination: route.DestinationIpv6CidrBlock };
  }
  if (route.DestinationPrefixListId) {
    return { field: 'DestinationPrefixListId', destination: route.DestinationPrefixListId };
  }
  return undefined;
}

/** What `inspect` collects while it reads, before it turns it into a Plan or refuses. */
interface PlanDraft {
  /** Named resources of another VPC (or taken over by another resource): the plan is refused. */
  foreign: string[];
  alreadyGone: string[];
  /** Listed route tables that do not exist: the plan is refused (ADR 0088). */
  missingTables: string[];
  natGatewaysToDelete: string[];
  natGatewaysToWaitFor: string[];
  /** Every resource the plan changes (or waits for), with its netkit:reapable value. */
  tagsOf: Map<string, { what: string; value: string | undefined }>;
  /** allocation id -> the NAT's network interface holding it */
  natAddresses: Map<string, { nat: string; eni: string | undefined }>;
}

/** What the Describe calls of `inspect` returned. */
interface Inventory {
  nats: NatGateway[];
  tables: RouteTable[];
  igws: InternetGateway[];
  /** Route tables of the VPC that route to one of the named gateways. */
  routing: RouteTable[];
}

type Read = <T>(step: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Read-only: check that everything named belongs to the VPC and compute what to remove.
 * Throws ValidationError listing every foreign resource; nothing has been changed then.
 */
export async function inspect(spec: ReapSpec, deps: ReapDeps, options: InspectOptions): Promise<Plan> {
  const { ec2 } = deps;
  const ctx: CallContext = {
    deadline: options.deadline,
    clock: deps.clock,
    logger: deps.logger,
    signal: options.signal,
  };
  const read: Read = (step, fn) =>
    callWithRetry(ctx, step, fn).catch((error: unknown) => {
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
  const inventory = await readInventory(spec, ec2, read);
  planNatGateways(spec, inventory.nats, draft);
  const eipsToRelease = await planEips(spec, ec2, read, draft);
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

/** The independent Describe calls, run concurrently: fewer round trips before the first mutation. */
async function readInventory(spec: ReapSpec, ec2: EC2Client, read: Read): Promise<Inventory> {
  const none = Promise.resolve([]);
  const natsRead =
    spec.natGatewayIds.length > 0
      ? read('DescribeNatGateways', () => describeNatsOnce(ec2, spec.natGatewayIds))
      : none;
  const tablesRead =
    spec.routeTableIds.length > 0
      ? read('DescribeRouteTables', () =>
          describeRouteTables(ec2, idFilter('route-table-id', spec.routeTableIds)),
        )
      : none;
  const igw = spec.internetGatewayId;
  const igwRead = igw !== undefined ? read('DescribeInternetGateways', () => describeIgws(ec2, igw)) : none;
  const gatewayFilters: Filter[][] = [];
  if (spec.natGatewayIds.length > 0)
    gatewayFilters.push(idFilter('route.nat-gateway-id', spec.natGatewayIds));
  if (spec.internetGatewayId !== undefined) {
    gatewayFilters.push(idFilter('route.gateway-id', [spec.internetGatewayId]));
  }
  const routingRead = Promise.all(
    gatewayFilters.map((filter) =>
      read('DescribeRouteTables', () =>
        describeRouteTables(ec2, [...idFilter('vpc-id', [spec.vpcId]), ...filter]),
      ),
    ),
  );
  const [nats, tables, igws, routing] = await Promise.all([natsRead, tablesRead, igwRead, routingRead]);
  return { nats, tables, igws, routing: routing.flat() };
}

/**
 * A listed resource that was found and is in the stack's VPC; `undefined` (and recorded in the draft)
 * when it is gone already or belongs to another VPC.
 */
function inSpecVpc<T extends { VpcId?: string | undefined }>(
  spec: ReapSpec,
  draft: PlanDraft,
  what: string,
  id: string,
  found: T | undefined,
): T | undefined {
  if (found === undefined) {
    draft.alreadyGone.push(id);
    return undefined;
  }
  if (found.VpcId !== spec.vpcId) {
    draft.foreign.push(`${what} is in ${found.VpcId ?? 'another VPC'}`);
    return undefined;
  }
  return found;
}

/** The named NAT gateways: to delete, to wait for, or gone; and the addresses they hold. */
function planNatGateways(spec: ReapSpec, nats: NatGateway[], draft: PlanDraft): void {
  for (const id of spec.natGatewayIds) {
    const nat = inSpecVpc(
      spec,
      draft,
      `NAT gateway ${id}`,
      id,
      nats.find((n) => n.NatGatewayId === id),
    );
    if (nat === undefined) continue;
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
      draft.foreign.push(
        `EIP ${allocationId} (from ${owner.nat}) is now associated with ${address.NetworkInterfaceId ?? address.InstanceId ?? 'another resource'}`,
      );
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
  const targets = new Set([
    ...spec.natGatewayIds,
    ...(spec.internetGatewayId ? [spec.internetGatewayId] : []),
  ]);
  const routes: PlannedRoute[] = [];
  for (const id of spec.routeTableIds) {
    // The reaper never deletes a route table: a listed one that does not exist is a mistake (ADR 0088).
    if (!tables.some((t) => t.RouteTableId === id)) {
      draft.missingTables.push(id);
      continue;
    }
    const table = inSpecVpc(
      spec,
      draft,
      `route table ${id}`,
      id,
      tables.find((t) => t.RouteTableId === id),
    );
    if (table === undefined) continue;
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
function planInternetGateway(
  spec: ReapSpec,
  igws: InternetGateway[],
  draft: PlanDraft,
): Plan['internetGateway'] {
  if (spec.internetGatewayId === undefined) return undefined;
  const [found] = igws;
  if (found === undefined) {
    draft.alreadyGone.push(spec.internetGatewayId);
    return undefined;
  }
  const attachments = (found.Attachments ?? []).filter((a) => a.State !== 'detached');
  const elsewhere = attachments.find((a) => a.VpcId !== spec.vpcId);
  if (elsewhere !== undefined) {
    draft.foreign.push(`internet gateway ${spec.internetGatewayId} is attached to ${elsewhere.VpcId}`);
    return undefined;
  }
  draft.tagsOf.set(spec.internetGatewayId, {
    what: `internet gateway ${spec.internetGatewayId}`,
    value: tagValue(found.Tags),
  });
  return { id: spec.internetGatewayId, attached: attachments.length > 0 };
}

/**
 * Checked for the whole plan before the first mutation: one untagged resource refuses all of it,
 * so the teardown never ends half-done (IAM would deny that one resource after the others went).
 */
function refuseForeignOrUntagged(spec: ReapSpec, draft: PlanDraft, reapableTagValue: string): void {
  const untagged = [...draft.tagsOf.values()]
    .filter((t) => t.value !== reapableTagValue)
    .map(
      (t) =>
        `${t.what} ${t.value === undefined ? `has no ${REAPABLE_TAG_KEY} tag` : `has ${REAPABLE_TAG_KEY}=${echo(t.value, 40)}`}`,
    );
  const problems = [
    ...(draft.missingTables.length > 0
      ? [
          `RouteTableIds not found: ${joinCapped(draft.missingTables)} (the reaper never deletes a route table: remove the id, or fix its typo)`,
        ]
      : []),
    ...(draft.foreign.length > 0 ? [`Not in ${spec.vpcId}: ${draft.foreign.join('; ')}`] : []),
    ...(untagged.length > 0
      ? [`Not tagged ${REAPABLE_TAG_KEY}=${echo(reapableTagValue, 40)}: ${untagged.join('; ')}`]
      : []),
  ];
  if (problems.length > 0) {
    throw new ValidationError(`${problems.join('. ')}. Nothing was changed.`);
  }
}

/** Route tables the user did not list that will be left pointing at a deleted gateway (blackhole). */
function unlistedRouteTables(spec: ReapSpec, routing: RouteTable[]): string[] {
  const unlisted = new Set<string>();
  for (const table of routing) {
    if (table.RouteTableId && !spec.routeTableIds.includes(table.RouteTableId))
      unlisted.add(table.RouteTableId);
  }
  return [...unlisted];
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DeadlineExceededError('Stopped: the deadline answer has already been sent to CloudFormation');
  }
}

/** What every step of `execute` works with. */
interface Execution extends CallContext {
  ec2: EC2Client;
  plan: Plan;
  options: ReapOptions;
  report: ReapReport;
}

/** Carry out a plan. Every step treats "already gone" as done, so a re-run finishes a partial teardown. */
export async function execute(plan: Plan, deps: ReapDeps, options: ReapOptions): Promise<ReapReport> {
  const { ec2, clock, logger } = deps;
  const report: ReapReport = {
    deletedRoutes: [],
    deletedNatGateways: [],
    releasedEips: [],
    detachedInternetGateway: undefined,
    deletedInternetGateway: undefined,
    alreadyGone: [...plan.alreadyGone],
    unlistedRouteTables: plan.unlistedRouteTables,
    natWaitMs: 0,
  };
  if (plan.unlistedRouteTables.length > 0) {
    logger.warn(
      'Route tables not listed in RouteTableIds still route to a gateway being removed; left alone',
      { routeTableIds: joinCapped(plan.unlistedRouteTables, LOG_LIST_BUDGET) },
    );
  }
  const run: Execution = {
    ec2,
    clock,
    logger,
    deadline: options.deadline,
    signal: options.signal,
    plan,
    options,
    report,
  };
  // 1. Routes first, so no table is left with a blackhole route.
  await deleteRoutes(run);
  // 2. NAT gateways; 3. wait until every one is `deleted`: its EIP and public IP stay mapped until then.
  await waitForNatGateways(run, await deleteNatGateways(run));
  // 4. Elastic IPs.
  await releaseEips(run);
  // 5. Internet gateway: detach, then delete.
  await removeInternetGateway(run);
  return report;
}

async function deleteRoutes(run: Execution): Promise<void> {
  const { ec2, plan, report, logger } = run;
  for (const route of plan.routes) {
    stopIfAborted(run.signal);
    const input: DeleteRouteCommandInput = {
      RouteTableId: route.routeTableId,
      [route.field]: route.destination,
    };
    const step = `DeleteRoute ${routeLabel(route)}`;
    try {
      await callWithRetry(run, step, () => ec2.send(new DeleteRouteCommand(input)));
      report.deletedRoutes.push(routeLabel(route));
      logger.info('Deleted route', { routeTableId: route.routeTableId, destination: route.destination });
    } catch (error) {
      if (!isAwsError(error, 'InvalidRoute.NotFound', 'InvalidRouteTableID.NotFound')) {
        throw stepFailed(step, error);
      }
      report.alreadyGone.push(routeLabel(route));
    }
  }
}

/** DeleteNatGateway on each; returns the NAT gateways to wait for (those found gone are not). */
async function deleteNatGateways(run: Execution): Promise<string[]> {
  const { ec2, plan, report, logger } = run;
  const waitFor = new Set(plan.natGatewaysToWaitFor);
  for (const id of plan.natGatewaysToDelete) {
    stopIfAborted(run.signal);
    const step = `DeleteNatGateway ${id}`;
    try {
      await callWithRetry(run, step, () => ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: id })));
      report.deletedNatGateways.push(id);
      logger.info('Deleting NAT gateway', { natGatewayId: id });
    } catch (error) {
      if (!isAwsError(error, ...NAT_NOT_FOUND)) throw stepFailed(step, error);
      report.alreadyGone.push(id);
      waitFor.delete(id);
    }
  }
  return [...waitFor];
}

async function waitForNatGateways(run: Execution, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { ec2, clock, report, logger, options } = run;
  const started = clock.now();
  try {
    await pollUntil(
      async () => {
        stopIfAborted(run.signal);
        const nats = await describeNats(ec2, ids, run);
        const pending = nats.filter((n) => !NAT_GONE_STATES.has(n.State ?? ''));
        return pending.length === 0 ? true : undefined;
      },
      {
        deadline: run.deadline,
        clock,
        what: `NAT gateway${ids.length > 1 ? 's' : ''} ${ids.join(', ')} to reach state deleted`,
        baseMs: Math.min(250, options.natPollMaxMs),
        maxMs: options.natPollMaxMs,
      },
    );
  } catch (error) {
    if (error instanceof DeadlineExceededError) {
      throw new DeadlineExceededError(
        `${error.message}; they keep deleting in the background: run the Update again (or re-create the resource) to finish`,
      );
    }
    throw stepFailed(`wait for ${ids.join(', ')} to reach state deleted (DescribeNatGateways)`, error);
  }
  report.natWaitMs = clock.now() - started;
  // NATs found already `deleting` (an earlier run that ran out of time) reached `deleted` during this run.
  for (const id of ids) if (!report.deletedNatGateways.includes(id)) report.deletedNatGateways.push(id);
  logger.info('NAT gateways deleted', { natGatewayIds: ids, waitedMs: report.natWaitMs });
}

/** ReleaseAddress fails briefly after the NAT is gone; those errors are retried within their own timeout. */
async function releaseEips(run: Execution): Promise<void> {
  const { ec2, clock, plan, report, logger } = run;
  const releaseDeadline = new Deadline(
    Math.min(run.deadline.at, clock.now() + run.options.eipReleaseTimeoutMs),
    clock,
  );
  for (const allocationId of plan.eipsToRelease) {
    stopIfAborted(run.signal);
    try {
      await callWithRetry(
        { ...run, deadline: releaseDeadline },
        `ReleaseAddress ${allocationId}`,
        () => ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId })),
        EIP_TRANSIENT,
        { baseMs: 250, maxMs: 2_000 },
        (error, attempt) => {
          logger.info('ReleaseAddress not possible yet; retrying', {
            allocationId,
            attempt: attempt + 1,
            error: describeError(error),
          });
        },
      );
      report.releasedEips.push(allocationId);
      logger.info('Released EIP', { allocationId });
    } catch (error) {
      if (isAwsError(error, 'InvalidAllocationID.NotFound')) {
        report.alreadyGone.push(allocationId);
        continue;
      }
      if (isAwsError(error, ...EIP_TRANSIENT)) {
        throw new NetkitError(
          `ReleaseAddress ${allocationId} still failing after the NAT gateway was deleted (${describeError(error)}); if this is AuthFailure for good, the role lacks ec2:ReleaseAddress on Resource "*"`,
          { cause: error },
        );
      }
      throw stepFailed(`ReleaseAddress ${allocationId}`, error);
    }
  }
}

/** DetachInternetGateway and DeleteInternetGateway answer this while public IPs are still mapped. */
const DEPENDENCY = ['DependencyViolation'];
const DEPENDENCY_BACKOFF = { baseMs: 1_000, maxMs: 15_000 };

async function removeInternetGateway(run: Execution): Promise<void> {
  const igw = run.plan.internetGateway;
  if (igw === undefined) return;
  const gone = igw.attached ? await detachInternetGateway(run, igw.id) : false;
  if (!gone) await deleteInternetGateway(run, igw.id);
}

/** Detach from the VPC; returns true when the gateway no longer exists. */
async function detachInternetGateway(run: Execution, id: string): Promise<boolean> {
  const { ec2, plan, report, logger } = run;
  stopIfAborted(run.signal);
  const step = `DetachInternetGateway ${id} from ${plan.vpcId}`;
  try {
    await callWithRetry(
      run,
      step,
      () => ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: id, VpcId: plan.vpcId })),
      DEPENDENCY,
      DEPENDENCY_BACKOFF,
      (error, attempt) => {
        logger.info('Internet gateway still has mapped public addresses; retrying detach', {
          internetGatewayId: id,
          attempt: attempt + 1,
          error: describeError(error),
        });
      },
    );
    report.detachedInternetGateway = id;
    logger.info('Detached internet gateway', { internetGatewayId: id, vpcId: plan.vpcId });
  } catch (error) {
    if (isAwsError(error, 'InvalidInternetGatewayID.NotFound')) {
      report.alreadyGone.push(id);
      return true;
    }
    if (isAwsError(error, ...DEPENDENCY)) {
      throw new NetkitError(
        `${step} still reports mapped public addresses (${describeError(error)}). Draining Fargate or Lambda network interfaces can hold public IPs for 5-20 minutes; run the Update again later to finish.`,
        { cause: error },
      );
    }
    if (!isAwsError(error, 'Gateway.NotAttached')) throw stepFailed(step, error);
  }
  return false;
}

async function deleteInternetGateway(run: Execution, id: string): Promise<void> {
  const { ec2, report, logger } = run;
  stopIfAborted(run.signal);
  const step = `DeleteInternetGateway ${id}`;
  try {
    await callWithRetry(
      run,
      step,
      () => ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: id })),
      DEPENDENCY,
      DEPENDENCY_BACKOFF,
      () => undefined,
    );
    report.deletedInternetGateway = id;
    logger.info('Deleted internet gateway', { internetGatewayId: id });
  } catch (error) {
    if (!isAwsError(error, 'InvalidInternetGatewayID.NotFound')) throw stepFailed(step, error);
    report.alreadyGone.push(id);
  }
}

/** Inspect, then (unless DryRun) execute. */
export async function reap(
  spec: ReapSpec,
  deps: ReapDeps,
  options: ReapOptions,
): Promise<{ plan: Plan; report: ReapReport | undefined }> {
  const plan = await inspect(spec, deps, options);
  deps.logger.info(spec.dryRun ? 'Dry run: plan only' : 'Plan', {
    routes: plan.routes.length,
    // Lists are capped: one log record stays well under 8 KB whatever the VPC holds.
    natGatewaysToDelete: joinCapped(plan.natGatewaysToDelete, LOG_LIST_BUDGET),
    natGatewaysToWaitFor: joinCapped(plan.natGatewaysToWaitFor, LOG_LIST_BUDGET),
    eipsToRelease: joinCapped(plan.eipsToRelease, LOG_LIST_BUDGET),
    internetGateway: plan.internetGateway?.id,
    alreadyGone: joinCapped(plan.alreadyGone, LOG_LIST_BUDGET),
  });
  if (spec.dryRun) return { plan, report: undefined };
  return { plan, report: await execute(plan, deps, options) };
}

/** Each Data value is a string (Fn::GetAtt friendly); lists are comma-separated and capped. */
const LIST_BUDGET = 400;
/** Longest list one log field carries. */
const LOG_LIST_BUDGET = 1_000;

export function joinCapped(values: readonly string[], budget = LIST_BUDGET): string {
  let text = '';
  for (let i = 0; i < values.length; i++) {
    const next = text === '' ? values[i] : `${text},${values[i]}`;
    const more = ` (+${values.length - i} more)`;
    if ((next as string).length > budget - (i < values.length - 1 ? more.length : 0)) {
      return `${text}${more}`;
    }
    text = next as string;
  }
  return text;
}

export function planData(plan: Plan): Record<string, string> {
  return {
    DryRun: 'true',
    VpcId: plan.vpcId,
    // The same attributes as a real run (empty), so Fn::GetAtt works in both modes.
    DeletedRoutes: '',
    DeletedNatGateways: '',
    ReleasedEips: '',
    DetachedInternetGateway: '',
    DeletedInternetGateway: '',
    RoutesToDelete: joinCapped(plan.routes.map(routeLabel)),
    NatGatewaysToDelete: joinCapped(plan.natGatewaysToWaitFor),
    EipsToRelease: joinCapped(plan.eipsToRelease),
    InternetGatewayToDelete: plan.internetGateway?.id ?? '',
    AlreadyGone: joinCapped(plan.alreadyGone),
    UnlistedRouteTables: joinCapped(plan.unlistedRouteTables),
  };
}

export function reportData(vpcId: string, report: ReapReport): Record<string, string> {
  return {
    DryRun: 'false',
    VpcId: vpcId,
    DeletedRoutes: joinCapped(report.deletedRoutes),
    DeletedNatGateways: joinCapped(report.deletedNatGateways),
    ReleasedEips: joinCapped(report.releasedEips),
    DetachedInternetGateway: report.detachedInternetGateway ?? '',
    DeletedInternetGateway: report.deletedInternetGateway ?? '',
    AlreadyGone: joinCapped(report.alreadyGone),
    UnlistedRouteTables: joinCapped(report.unlistedRouteTables),
  };
}
