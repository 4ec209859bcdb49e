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
import { describeNats, type InspectOptions, NAT_GONE_STATES, type Plan, type ReapDeps } from './inspect.ts';
import { newReport, routeLabel } from './reap-data.ts';

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
  detachedInternetGateway?: string;
  deletedInternetGateway?: string;
  alreadyGone: string[];
  unlistedRouteTables: string[];
  natWaitMs: number;
}

const NAT_NOT_FOUND = ['NatGatewayNotFound', 'InvalidNatGatewayID.NotFound'];
const IGW_NOT_FOUND = 'InvalidInternetGatewayID.NotFound';
/** Detach/DeleteInternetGateway answer DependencyViolation while public IPs are still mapped. */
const DEPENDENCY = { transient: ['DependencyViolation'], baseMs: 1_000, maxMs: 15_000 };
const DETACH: Step = {
  gone: [IGW_NOT_FOUND, 'Gateway.NotAttached'],
  retry: DEPENDENCY,
  // Draining Fargate or Lambda network interfaces can hold public IPs for 5-20 minutes.
  still: 'public addresses still mapped: run the Update again later',
};
const RELEASE: Step = {
  gone: ['InvalidAllocationID.NotFound'],
  // ReleaseAddress fails with these until the NAT gateway has let go of the address.
  retry: { transient: ['InvalidIPAddress.InUse', 'AuthFailure'], maxMs: 2_000 },
  still: 'if AuthFailure persists, the role lacks ec2:ReleaseAddress on Resource "*"',
};

interface Execution extends CallContext, ReapDeps {
  plan: Plan;
  options: ReapOptions;
  report: ReapReport;
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

interface Step {
  /** Errors that mean "already done". */
  gone: string[];
  retry?: CallOptions;
  /** What to do when the call's own transient error outlasts its retries. */
  still?: string;
}

/** One mutating step; returns the `gone` error name it met, or undefined when it was done. */
async function mutate(run: Execution, step: string, send: () => Promise<unknown>, how: Step) {
  stopIfAborted(run.signal);
  try {
    await call(run, step, send, how.retry);
    return undefined;
  } catch (error) {
    const gone = how.gone.find((name) => isAwsError(error, name));
    if (gone !== undefined) return gone;
    if (how.still !== undefined && isAwsError(error, ...(how.retry?.transient ?? []))) {
      throw new NetkitError(`${step} still failing (${describeError(error)}); ${how.still}`, {
        cause: error,
      });
    }
    throw stepFailed(step, error);
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
    if (await mutate(run, `DeleteRoute ${routeLabel(route)}`, send, { gone }))
      report.alreadyGone.push(routeLabel(route));
    else {
      report.deletedRoutes.push(routeLabel(route));
      logger.info('Deleted route', { routeTableId: route.routeTableId, destination: route.destination });
    }
  }
}

/** Returns the NAT gateways to wait for (those found gone are not). */
async function deleteNatGateways(run: Execution): Promise<string[]> {
  const { ec2, plan, report, logger } = run;
  const waitFor = new Set(plan.natGatewaysToWaitFor);
  for (const id of plan.natGatewaysToDelete) {
    const send = () => ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: id }));
    if (await mutate(run, `DeleteNatGateway ${id}`, send, { gone: NAT_NOT_FOUND })) {
      report.alreadyGone.push(id);
      waitFor.delete(id);
    } else {
      report.deletedNatGateways.push(id);
      logger.info('Deleting NAT gateway', { natGatewayId: id });
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
    const send = () => ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId }));
    const step = `ReleaseAddress ${allocationId}`;
    if (await mutate({ ...run, deadline }, step, send, RELEASE)) report.alreadyGone.push(allocationId);
    else {
      report.releasedEips.push(allocationId);
      logger.info('Released EIP', { allocationId });
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
  const send = () => ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: id, VpcId: plan.vpcId }));
  const gone = await mutate(run, `DetachInternetGateway ${id} from ${plan.vpcId}`, send, DETACH);
  if (gone === undefined) {
    report.detachedInternetGateway = id;
    logger.info('Detached internet gateway', { internetGatewayId: id, vpcId: plan.vpcId });
  } else if (gone === IGW_NOT_FOUND) report.alreadyGone.push(id);
  return gone === IGW_NOT_FOUND;
}

async function deleteInternetGateway(run: Execution, id: string): Promise<void> {
  const send = () => run.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: id }));
  if (await mutate(run, `DeleteInternetGateway ${id}`, send, { gone: [IGW_NOT_FOUND], retry: DEPENDENCY })) {
    run.report.alreadyGone.push(id);
  } else {
    run.report.deletedInternetGateway = id;
    run.logger.info('Deleted internet gateway', { internetGatewayId: id });
  }
}
