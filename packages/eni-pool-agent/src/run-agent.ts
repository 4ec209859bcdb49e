import type { EC2Client } from '@aws-sdk/client-ec2';
import { ConfigError, describeError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, pollUntil } from '@netkit/aws-core/retry';
import { allocate } from './allocate.ts';
import type { PoolConfig } from './config.ts';
import { explain, ImdsUnreachableError, PermanentAllocationError, PoolExhaustedError } from './errors.ts';
import { type CommandRunner, setHostname } from './hostname.ts';
import type { Imds } from './imds.ts';
import { inspectInstance, type PoolEni, readPool } from './read-pool.ts';

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

type Identity = { instanceId: string; region: string; availabilityZone: string };
type Found = Pick<AgentReport, 'status' | 'networkInterfaceId' | 'privateIp' | 'attempts' | 'hostname'>;

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
  const report: AgentReport = { status: 'failed', exitCode: EXIT.FAILED, dryRun: options.dryRun };
  try {
    const identity = await deps.imds.identity();
    Object.assign(report, identity);
    const fromTag = options.mode === 'hostname-from-tag';
    const waitMs = (fromTag && options.hookTimeoutMs) || options.config.attachTimeoutMs;
    const deadline = Deadline.in(waitMs, deps.clock);
    if (fromTag) report.hostname = await waitForHostnameTag(options, deps, deadline, report);
    else Object.assign(report, await attachPoolEni(options, deps, identity, deadline));
    const { hostname } = report;
    report.hostnameSet = false;
    if (hostname !== undefined && options.setHostname && !options.dryRun) {
      try {
        await setHostname(deps.run, hostname);
        report.hostnameSet = true;
      } catch (error) {
        report.exitCode = EXIT.HOSTNAME_FAILED;
        throw error;
      }
    }
    report.exitCode = EXIT.OK;
  } catch (error) {
    await fail(options, deps, report, error);
  }
  return report;
}

/** Lambda mode writes the tag while the launch hook holds the instance: wait for it. */
async function waitForHostnameTag(
  options: AgentOptions,
  deps: AgentDeps,
  deadline: Deadline,
  report: AgentReport,
): Promise<string> {
  const tag = options.config.hostnameTag;
  const hostname = await pollUntil(async () => (await deps.imds.instanceTag(tag)) || undefined, {
    deadline,
    clock: deps.clock,
    what: `the instance tag ${tag} in instance metadata (enable InstanceMetadataTags in the launch template)`,
    baseMs: 1_000,
    maxMs: 5_000,
  }).catch((error: unknown) => {
    if (!(error instanceof ImdsUnreachableError)) report.exitCode = EXIT.HOSTNAME_FAILED;
    throw error;
  });
  report.status = 'hostname-set';
  return hostname;
}

/** Attach mode: claim a pool ENI (or, with --dry-run, say which one). */
async function attachPoolEni(options: AgentOptions, deps: AgentDeps, identity: Identity, deadline: Deadline) {
  const { config: pool } = options;
  const { instanceId, availabilityZone, region } = identity;
  const core = { ec2: deps.ec2(region), clock: deps.clock, logger: deps.logger, random: deps.random };
  const found = (status: AgentReport['status'], eni: PoolEni, attempts?: number): Found => {
    const { networkInterfaceId, privateIp, hostname } = eni;
    return { status, networkInterfaceId, privateIp, attempts, hostname };
  };
  if (!options.dryRun) {
    const allocation = await allocate({ instanceId, availabilityZone }, pool, core, deadline);
    return found(allocation.outcome, allocation.eni, allocation.attempts);
  }
  const view = await inspectInstance(core, pool, instanceId, deadline);
  const held = view.held[0];
  const next = held ?? (await readPool(core, pool, view.availabilityZone, deadline, true))[0];
  const az = view.availabilityZone;
  if (next === undefined) throw new PoolExhaustedError(`No available pool ENI in ${az}`, az);
  return found(held ? 'already-held' : 'would-attach', next);
}

/** Record the failure in the report; with --on-failure shutdown, power off. */
async function fail(options: AgentOptions, deps: AgentDeps, report: AgentReport, error: unknown) {
  report.status = 'failed';
  report.error = explain(error);
  if (report.exitCode === EXIT.FAILED) report.exitCode = exitCodeFor(error);
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

function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return EXIT.USAGE;
  if (error instanceof ImdsUnreachableError) return EXIT.IMDS_UNREACHABLE;
  if (error instanceof PoolExhaustedError) return EXIT.POOL_EXHAUSTED;
  if (error instanceof PermanentAllocationError) return EXIT.CANNOT_ATTACH;
  return EXIT.FAILED;
}
