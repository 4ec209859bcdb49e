import type { EC2Client } from '@aws-sdk/client-ec2';
import { describeError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, pollUntil } from '@netkit/aws-core/retry';
import { allocate } from './allocate.ts';
import type { PoolConfig } from './config.ts';
import { explain, ImdsUnreachableError, PermanentAllocationError, PoolExhaustedError } from './errors.ts';
import { type CommandRunner, setHostname } from './hostname.ts';
import type { Imds } from './imds.ts';
import { inspectInstance, isFree, type PoolEni, readPool } from './read-pool.ts';

/** Exit codes user data can act on (README, "Exit codes"). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  IMDS_UNREACHABLE: 3,
  POOL_EXHAUSTED: 4,
  CANNOT_ATTACH: 5,
  HOSTNAME_FAILED: 6,
} as const;

export interface AgentOptions {
  mode: 'attach' | 'hostname-from-tag';
  dryRun: boolean;
  setHostname: boolean;
  onFailure: 'exit' | 'shutdown';
  /** The pool settings (attach mode) or just HOSTNAME_TAG (hostname-from-tag). */
  config: PoolConfig;
  /** hostname-from-tag: how long to wait for the tag (the launch hook's HeartbeatTimeout). */
  hookTimeoutMs?: number;
}

interface AgentDeps {
  imds: Imds;
  ec2(region: string): EC2Client;
  run: CommandRunner;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

/** The one JSON line the agent prints. */
interface AgentReport {
  status: 'attached' | 'already-held' | 'would-attach' | 'hostname-set' | 'failed';
  exitCode: number;
  dryRun: boolean;
  instanceId?: string;
  region?: string;
  availabilityZone?: string;
  networkInterfaceId?: string;
  privateIp?: string;
  hostname?: string;
  hostnameSet?: boolean;
  attempts?: number;
  error?: string;
  shutdown?: boolean;
}

/** Run the agent once; never throws: every outcome is a report with an exit code. */
export async function runAgent(options: AgentOptions, deps: AgentDeps): Promise<AgentReport> {
  // `exitCode`: what a failure from here on means, unless its error tells more (exitCodeFor).
  const report: AgentReport = { status: 'failed', exitCode: EXIT.FAILED, dryRun: options.dryRun };
  try {
    const identity = await deps.imds.identity();
    Object.assign(report, identity);
    const fromTag = options.mode === 'hostname-from-tag';
    const waitMs = (fromTag && options.hookTimeoutMs) || options.config.attachTimeoutMs;
    const deadline = Deadline.in(waitMs, deps.clock);
    if (fromTag) {
      report.exitCode = EXIT.HOSTNAME_FAILED;
      report.hostname = await waitForHostnameTag(options.config.hostnameTag, deps, deadline);
      report.status = 'hostname-set';
    } else Object.assign(report, await attachPoolEni(options, deps, identity, deadline));
    report.hostnameSet = false;
    if (report.hostname !== undefined && options.setHostname && !options.dryRun) {
      report.exitCode = EXIT.HOSTNAME_FAILED;
      await setHostname(deps.run, report.hostname);
      report.hostnameSet = true;
    }
    report.exitCode = EXIT.OK;
  } catch (error) {
    await fail(options, deps, report, error);
  }
  return report;
}

/** Lambda mode writes the tag while the launch hook holds the instance: wait for it. */
function waitForHostnameTag(tag: string, deps: AgentDeps, deadline: Deadline): Promise<string> {
  return pollUntil(async () => (await deps.imds.instanceTag(tag)) || undefined, {
    deadline,
    clock: deps.clock,
    what: `the instance tag ${tag} in instance metadata (enable InstanceMetadataTags in the launch template)`,
    baseMs: 1_000,
    maxMs: 5_000,
  });
}

/** Attach mode: claim a pool ENI (or, with --dry-run, say which one). */
async function attachPoolEni(
  { config: pool, dryRun }: AgentOptions,
  deps: AgentDeps,
  { instanceId, region }: { instanceId: string; region: string },
  deadline: Deadline,
): Promise<Partial<AgentReport>> {
  const core = { ec2: deps.ec2(region), clock: deps.clock, logger: deps.logger, random: deps.random };
  const found = (e: PoolEni) => ({
    networkInterfaceId: e.networkInterfaceId,
    privateIp: e.privateIp,
    hostname: e.hostname,
  });
  if (!dryRun) {
    const { outcome, eni, attempts } = await allocate({ instanceId }, pool, core, deadline);
    return { status: outcome, ...found(eni), attempts };
  }
  const view = await inspectInstance(core, pool, instanceId, deadline);
  const held = view.held[0];
  const next = held ?? (await readPool(core, pool, view.availabilityZone, deadline)).find(isFree);
  const az = view.availabilityZone;
  if (next === undefined) throw new PoolExhaustedError(`No available pool ENI in ${az}`, az);
  return { status: held ? 'already-held' : 'would-attach', ...found(next) };
}

/** Record the failure in the report; with --on-failure shutdown, power off. */
async function fail(options: AgentOptions, deps: AgentDeps, report: AgentReport, error: unknown) {
  report.status = 'failed';
  report.error = explain(error);
  report.exitCode = exitCodeFor(error, report.exitCode);
  deps.logger.error('eni-pool-agent failed', { error: report.error, exitCode: report.exitCode });
  // Never with --hostname-from-tag: the launch hook decides, and a warm-pool boot has no tag yet.
  if (options.onFailure === 'shutdown' && !options.dryRun && options.mode !== 'hostname-from-tag') {
    report.shutdown = true;
    await deps.run('shutdown', ['-h', 'now']).catch((shutdownError: unknown) => {
      report.shutdown = false;
      deps.logger.error('shutdown failed', { error: describeError(shutdownError) });
    });
  }
}

function exitCodeFor(error: unknown, otherwise: number): number {
  if (error instanceof ImdsUnreachableError) return EXIT.IMDS_UNREACHABLE;
  if (error instanceof PoolExhaustedError) return EXIT.POOL_EXHAUSTED;
  if (error instanceof PermanentAllocationError) return EXIT.CANNOT_ATTACH;
  return otherwise;
}
