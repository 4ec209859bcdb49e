import {
  DeleteInternetGatewayCommand,
  DeleteNatGatewayCommand,
  DeleteRouteCommand,
  type DeleteRouteCommandInput,
  DetachInternetGatewayCommand,
  ReleaseAddressCommand,
} from '@aws-sdk/client-ec2';
import { DeadlineExceededError, describeError, isAwsError, NetkitError } from '@netkit/aws-core/errors';
import { Deadline, pollUntil } from '@netkit/aws-core/retry';
import { type CallContext, type CallOptions, call, stepFailed, stopIfAborted } from './call.ts';
import {
  describeNats,
  type InspectOptions,
  NAT_GONE_STATES,
  type Plan,
  type ReapDeps,
  routeLabel,
} from './inspect.ts';

export interface ReapOptions extends InspectOptions {
  /** Longest pause between two polls of a deleting NAT gateway. */
  natPollMaxMs: number;
  /** How long ReleaseAddress is retried on InvalidIPAddress.InUse / AuthFailure. */
  eipReleaseTimeoutMs: number;
}

export interface ReapReport {
  deletedRoutes: string[];
  deletedNatGateways: string[];
  releasedEips: string[];
  detachedInternetGateway: string | undefined;
  deletedInternetGateway: string | undefined;
  alreadyGone: string[];
  unlistedRouteTables: string[];
  natWaitMs: number;
}

const NAT_NOT_FOUND = ['NatGatewayNotFound', 'InvalidNatGatewayID.NotFound'];
/** ReleaseAddress fails with these until the NAT gateway has let go of the address. */
const EIP_TRANSIENT = ['InvalidIPAddress.InUse', 'AuthFailure'];
/** Detach/DeleteInternetGateway answer this while public IPs are still mapped. */
const DEPENDENCY = { transient: ['DependencyViolation'], baseMs: 1_000, maxMs: 15_000 };

interface Execution extends CallContext, ReapDeps {
  plan: Plan;
  options: ReapOptions;
  report: ReapReport;
}

export function newReport(alreadyGone: string[] = [], unlistedRouteTables: string[] = []): ReapReport {
  const [detachedInternetGateway, deletedInternetGateway] = [undefined, undefined];
  return {
    deletedRoutes: [],
    deletedNatGateways: [],
    releasedEips: [],
    detachedInternetGateway,
    deletedInternetGateway,
    alreadyGone: [...alreadyGone],
    unlistedRouteTables,
    natWaitMs: 0,
  };
}

/** Carry out a plan. Every step treats "already gone" as done, so a re-run finishes a partial teardown. */
export async function execute(plan: Plan, deps: ReapDeps, options: ReapOptions): Promise<ReapReport> {
  const report = newReport(plan.alreadyGone, plan.unlistedRouteTables);
  const { deadline, signal } = options;
  const run: Execution = { ...deps, deadline, signal, plan, options, report };
  // Routes first, so no table is left with a blackhole route.
  await deleteRoutes(run);
  // A NAT's EIP and public IP stay mapped until it is `deleted`.
  await waitForNatGateways(run, await deleteNatGateways(run));
  await releaseEips(run);
  await removeInternetGateway(run);
  return report;
}

/** One mutating step; `gone` are the errors that mean "already done". Returns false when it was gone. */
async function mutate(
  run: Execution,
  step: string,
  send: () => Promise<unknown>,
  gone: string[],
  options?: CallOptions,
): Promise<boolean> {
  stopIfAborted(run.signal);
  try {
    await call(run, step, send, options);
    return true;
  } catch (error) {
    if (!isAwsError(error, ...gone)) throw stepFailed(step, error);
    return false;
  }
}

async function deleteRoutes(run: Execution): Promise<void> {
  const { ec2, plan, report, logger } = run;
  for (const route of plan.routes) {
    const input: DeleteRouteCommandInput = {
      RouteTableId: route.routeTableId,
      [route.field]: route.destination,
    };
    const send = () => ec2.send(new DeleteRouteCommand(input));
    const gone = ['InvalidRoute.NotFound', 'InvalidRouteTableID.NotFound'];
    if (await mutate(run, `DeleteRoute ${routeLabel(route)}`, send, gone)) {
      report.deletedRoutes.push(routeLabel(route));
      logger.info('Deleted route', { routeTableId: route.routeTableId, destination: route.destination });
    } else report.alreadyGone.push(routeLabel(route));
  }
}

/** Returns the NAT gateways to wait for (those found gone are not). */
async function deleteNatGateways(run: Execution): Promise<string[]> {
  const { ec2, plan, report, logger } = run;
  const waitFor = new Set(plan.natGatewaysToWaitFor);
  for (const id of plan.natGatewaysToDelete) {
    const send = () => ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: id }));
    if (await mutate(run, `DeleteNatGateway ${id}`, send, NAT_NOT_FOUND)) {
      report.deletedNatGateways.push(id);
      logger.info('Deleting NAT gateway', { natGatewayId: id });
    } else {
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
  const what = `NAT gateway${ids.length > 1 ? 's' : ''} ${ids.join(', ')} to reach state deleted`;
  const allGone = async () => {
    stopIfAborted(run.signal);
    const nats = await call(run, 'DescribeNatGateways', () => describeNats(ec2, ids));
    return nats.every((n) => NAT_GONE_STATES.has(n.State ?? '')) ? true : undefined;
  };
  const poll = {
    deadline: run.deadline,
    clock,
    what,
    baseMs: Math.min(250, options.natPollMaxMs),
    maxMs: options.natPollMaxMs,
  };
  try {
    await pollUntil(allGone, poll);
  } catch (error) {
    if (error instanceof DeadlineExceededError) {
      throw new DeadlineExceededError(`${error.message}; run the Update again to finish`);
    }
    throw stepFailed(`wait for ${ids.join(', ')} to reach state deleted (DescribeNatGateways)`, error);
  }
  report.natWaitMs = clock.now() - started;
  // NATs found already `deleting` (an earlier run that ran out of time) reached `deleted` during this run.
  for (const id of ids) if (!report.deletedNatGateways.includes(id)) report.deletedNatGateways.push(id);
  logger.info('NAT gateways deleted', { natGatewayIds: ids, waitedMs: report.natWaitMs });
}

async function releaseEips(run: Execution): Promise<void> {
  const { ec2, clock, plan, report, logger } = run;
  // Its transient errors are retried within their own timeout.
  const deadline = new Deadline(
    Math.min(run.deadline.at, clock.now() + run.options.eipReleaseTimeoutMs),
    clock,
  );
  for (const allocationId of plan.eipsToRelease) {
    stopIfAborted(run.signal);
    const step = `ReleaseAddress ${allocationId}`;
    try {
      const send = () => ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId }));
      await call({ ...run, deadline }, step, send, { transient: EIP_TRANSIENT, maxMs: 2_000 });
      report.releasedEips.push(allocationId);
      logger.info('Released EIP', { allocationId });
    } catch (error) {
      if (isAwsError(error, 'InvalidAllocationID.NotFound')) report.alreadyGone.push(allocationId);
      else if (isAwsError(error, ...EIP_TRANSIENT)) {
        const hint = 'if AuthFailure persists, the role lacks ec2:ReleaseAddress on Resource "*"';
        throw new NetkitError(`${step} still failing (${describeError(error)}); ${hint}`, { cause: error });
      } else throw stepFailed(step, error);
    }
  }
}

async function removeInternetGateway(run: Execution): Promise<void> {
  const igw = run.plan.internetGateway;
  if (igw === undefined) return;
  const gone = igw.attached ? await detachInternetGateway(run, igw.id) : false;
  if (!gone) await deleteInternetGateway(run, igw.id);
}

/** Returns true when the gateway no longer exists. */
async function detachInternetGateway(run: Execution, id: string): Promise<boolean> {
  const { ec2, plan, report, logger } = run;
  stopIfAborted(run.signal);
  const step = `DetachInternetGateway ${id} from ${plan.vpcId}`;
  try {
    const send = () =>
      ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: id, VpcId: plan.vpcId }));
    await call(run, step, send, DEPENDENCY);
    report.detachedInternetGateway = id;
    logger.info('Detached internet gateway', { internetGatewayId: id, vpcId: plan.vpcId });
  } catch (error) {
    if (isAwsError(error, 'InvalidInternetGatewayID.NotFound')) {
      report.alreadyGone.push(id);
      return true;
    }
    if (isAwsError(error, ...DEPENDENCY.transient)) {
      // Draining Fargate or Lambda network interfaces can hold public IPs for 5-20 minutes.
      const message = `${step}: public addresses still mapped (${describeError(error)}); run the Update again later`;
      throw new NetkitError(message, { cause: error });
    }
    if (!isAwsError(error, 'Gateway.NotAttached')) throw stepFailed(step, error);
  }
  return false;
}

async function deleteInternetGateway(run: Execution, id: string): Promise<void> {
  const send = () => run.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: id }));
  if (
    await mutate(run, `DeleteInternetGateway ${id}`, send, ['InvalidInternetGatewayID.NotFound'], DEPENDENCY)
  ) {
    run.report.deletedInternetGateway = id;
    run.logger.info('Deleted internet gateway', { internetGatewayId: id });
  } else run.report.alreadyGone.push(id);
}
