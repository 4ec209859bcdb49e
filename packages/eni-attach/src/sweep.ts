import { type EC2Client, paginateDescribeNetworkInterfaces } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { awsCall, type Clock, type Deadline } from '@netkit/aws-core/retry';
import { tagFilters } from '@netkit/aws-core/tags';
import type { SweeperConfig } from './config.ts';
import { deleteInterface } from './delete-interface.ts';
import { MANAGED_BY, TAG, tagValue } from './naming.ts';

export interface SweepDeps {
  ec2: EC2Client;
  logger: Logger;
  clock: Clock;
}

interface SweptInterface {
  networkInterfaceId: string;
  instanceId?: string;
  createdAt?: string;
  ageMinutes?: number;
}

export interface SweepReport {
  /** `available` ENIs tagged by this package. */
  scanned: number;
  deleted: SweptInterface[];
  /** Would have been deleted (dry run). */
  wouldDelete: SweptInterface[];
  /** Younger than the grace period, or without a readable creation tag. */
  kept: SweptInterface[];
  failed: { networkInterfaceId: string; error: string }[];
  /** More candidates than SWEEP_MAX_DELETES: the next run continues. */
  truncated: boolean;
}

/** Delete the `available` ENIs of ours older than the grace period: one filtered Describe, one Delete each. */
export async function sweepOrphans(
  config: Pick<SweeperConfig, 'graceMs' | 'dryRun' | 'maxDeletes'>,
  deps: SweepDeps,
  deadline: Deadline,
): Promise<SweepReport> {
  const report: SweepReport = {
    scanned: 0,
    deleted: [],
    wouldDelete: [],
    kept: [],
    failed: [],
    truncated: false,
  };
  const candidates = await listCandidates(config.graceMs, deps, report);
  report.truncated = candidates.length > config.maxDeletes;
  for (const item of candidates.slice(0, config.maxDeletes)) {
    if (config.dryRun) report.wouldDelete.push(item);
    else await deleteOrphan(item, deps, deadline, report);
  }
  deps.logger.info('Swept orphaned network interfaces', {
    scanned: report.scanned,
    deleted: report.deleted.map((d) => d.networkInterfaceId),
    wouldDelete: report.wouldDelete.map((d) => d.networkInterfaceId),
    kept: report.kept.length,
    failed: report.failed,
    truncated: report.truncated,
  });
  return report;
}

/** The `available` ENIs of ours past the grace period; the others go to `kept`. */
async function listCandidates(graceMs: number, deps: SweepDeps, report: SweepReport) {
  const now = deps.clock.now();
  const candidates: SweptInterface[] = [];
  const Filters = [...tagFilters({ [TAG.managedBy]: MANAGED_BY }), { Name: 'status', Values: ['available'] }];
  const pages = paginateDescribeNetworkInterfaces({ client: deps.ec2, pageSize: 200 }, { Filters });
  for await (const page of pages) {
    for (const eni of page.NetworkInterfaces ?? []) {
      report.scanned++;
      const createdAt = tagValue(eni, TAG.createdAt);
      const ageMs = now - Date.parse(createdAt ?? '');
      const item: SweptInterface = {
        networkInterfaceId: eni.NetworkInterfaceId!,
        instanceId: tagValue(eni, TAG.instanceId),
        createdAt,
        ageMinutes: Number.isNaN(ageMs) ? undefined : Math.floor(ageMs / 60_000),
      };
      if (item.ageMinutes !== undefined && item.ageMinutes * 60_000 >= graceMs) candidates.push(item);
      else report.kept.push(item);
    }
  }
  return candidates;
}

async function deleteOrphan(item: SweptInterface, deps: SweepDeps, deadline: Deadline, report: SweepReport) {
  const { ec2, clock, logger } = deps;
  try {
    const call = <T>(what: string, fn: () => Promise<T>) => awsCall(what, fn, { deadline, clock, logger });
    const outcome = await deleteInterface(call, ec2, item.networkInterfaceId);
    if (outcome === 'deleted') report.deleted.push(item);
    if (outcome === 'in-use') report.kept.push(item); // a redelivered launch picked it up
  } catch (error) {
    report.failed.push({ networkInterfaceId: item.networkInterfaceId, error: describeError(error) });
  }
}
