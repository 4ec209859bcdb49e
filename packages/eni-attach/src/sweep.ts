import {
  DeleteNetworkInterfaceCommand,
  type EC2Client,
  type NetworkInterface,
  paginateDescribeNetworkInterfaces,
} from '@aws-sdk/client-ec2';
import { describeError, isAwsError, isNotFoundError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, type Deadline, retryTransient } from '@netkit/aws-core/retry';
import type { SweeperConfig } from './config.ts';
import { MANAGED_BY, TAG, tagValue } from './naming.ts';

export interface SweepDeps {
  ec2: EC2Client;
  logger: Logger;
  clock: Clock;
  random?: () => number;
}

export interface SweptInterface {
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

function describe(eni: NetworkInterface, now: number): SweptInterface {
  const out: SweptInterface = { networkInterfaceId: eni.NetworkInterfaceId! };
  const instanceId = tagValue(eni, TAG.instanceId);
  const createdAt = tagValue(eni, TAG.createdAt);
  if (instanceId) out.instanceId = instanceId;
  if (createdAt) {
    out.createdAt = createdAt;
    const t = Date.parse(createdAt);
    if (!Number.isNaN(t)) out.ageMinutes = Math.floor((now - t) / 60_000);
  }
  return out;
}

/**
 * Delete orphans: ENIs this package tagged that are `available` (attached to
 * nothing) and older than the grace period, e.g. left by an invocation that
 * timed out between create and attach, or detached by hand. Only the filtered
 * Describe (tag + status, server-side) and one Delete per orphan.
 */
export async function sweepOrphans(
  config: Pick<SweeperConfig, 'graceMs' | 'dryRun' | 'maxDeletes'>,
  deps: SweepDeps,
  deadline: Deadline,
): Promise<SweepReport> {
  const now = deps.clock.now();
  const report: SweepReport = {
    scanned: 0,
    deleted: [],
    wouldDelete: [],
    kept: [],
    failed: [],
    truncated: false,
  };
  const candidates: SweptInterface[] = [];
  const pages = paginateDescribeNetworkInterfaces(
    { client: deps.ec2, pageSize: 200 },
    {
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] },
        { Name: 'status', Values: ['available'] },
      ],
    },
  );
  for await (const page of pages) {
    for (const eni of page.NetworkInterfaces ?? []) {
      if (eni.Status !== 'available' || tagValue(eni, TAG.managedBy) !== MANAGED_BY) continue;
      report.scanned++;
      const item = describe(eni, now);
      if (item.ageMinutes !== undefined && item.ageMinutes * 60_000 >= config.graceMs) candidates.push(item);
      else report.kept.push(item);
    }
  }
  if (candidates.length > config.maxDeletes) report.truncated = true;
  for (const item of candidates.slice(0, config.maxDeletes)) {
    if (config.dryRun) {
      report.wouldDelete.push(item);
      continue;
    }
    try {
      await retryTransient(
        () =>
          deps.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: item.networkInterfaceId })),
        {
          deadline,
          clock: deps.clock,
          ...(deps.random ? { random: deps.random } : {}),
        },
      );
      report.deleted.push(item);
    } catch (error) {
      if (isNotFoundError(error)) continue; // deleted meanwhile
      if (isAwsError(error, 'InvalidNetworkInterface.InUse')) {
        report.kept.push(item); // attached meanwhile (a redelivered launch picked it up)
        continue;
      }
      report.failed.push({ networkInterfaceId: item.networkInterfaceId, error: describeError(error) });
    }
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
