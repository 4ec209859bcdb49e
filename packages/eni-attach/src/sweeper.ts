import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { createObservability } from '@netkit/aws-core/observability';
import { Deadline, type LambdaContextLike, systemClock } from '@netkit/aws-core/retry';
import { loadSweepConfig, type SweepConfig } from './config.ts';
import { SERVICE_NAME } from './naming.ts';
import { type SweepDeps, type SweepReport, sweepOrphans } from './sweep.ts';

/** Scheduled handler (EventBridge Scheduler or a schedule rule): the event's content is not used. */
export function createSweepHandler(deps: SweepDeps, config: SweepConfig) {
  return async (_event: unknown, context: LambdaContextLike): Promise<SweepReport> =>
    sweepOrphans(config, deps, Deadline.fromContext(context, 2_000, deps.clock));
}

const { logger, tracer } = createObservability(`${SERVICE_NAME}-sweeper`);
const config = loadSweepConfig(process.env);

export const handler = createSweepHandler(
  { ec2: createClient(EC2Client, { tracer }), logger, clock: systemClock },
  config,
);
