import { type Metrics, MetricUnit } from '@netkit/aws-core/metrics';
import { Deadline, type LambdaContextLike } from '@netkit/aws-core/retry';
import type { SweeperConfig } from './config.ts';
import { type SweepDeps, type SweepReport, sweepOrphans } from './sweep.ts';

export interface SweeperHandlerDeps extends SweepDeps {
  clock: SweepDeps['clock']; // named here: the house style requires it in every deps interface
  metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

/**
 * Scheduled sweeper (EventBridge schedule): the event's content is not used. Publishes
 * `OrphansDeleted` and `OrphanDeletesFailed` once per run (zero included, so a dashboard shows runs).
 */
export function createSweeperHandler(deps: SweeperHandlerDeps, config: SweeperConfig) {
  return async (_event: unknown, context: LambdaContextLike): Promise<SweepReport> => {
    try {
      const deadline = Deadline.fromContext(context, config.deadlineMarginMs, deps.clock);
      const report = await sweepOrphans(config, deps, deadline);
      deps.metrics.addMetric('OrphansDeleted', MetricUnit.Count, report.deleted.length);
      deps.metrics.addMetric('OrphanDeletesFailed', MetricUnit.Count, report.failed.length);
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
