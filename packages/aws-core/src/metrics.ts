import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Metric namespace shared by all packages; dimension `service` tells them apart. */
const METRICS_NAMESPACE = 'Netkit';

/** Powertools Metrics (CloudWatch EMF) for pool gauges. Flush with `publishStoredMetrics()`. */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName,
  });
}

/** Pool gauges the allocating packages publish, so users can alarm before a launch fails. */
export interface PoolGauge {
  size: number;
  free: number;
  exhausted: boolean;
}

export function recordPoolGauge(metrics: Pick<Metrics, 'addMetric'>, gauge: PoolGauge): void {
  metrics.addMetric('PoolSize', MetricUnit.Count, gauge.size);
  metrics.addMetric('PoolFree', MetricUnit.Count, gauge.free);
  metrics.addMetric('PoolExhausted', MetricUnit.Count, gauge.exhausted ? 1 : 0);
}

export { MetricUnit, Metrics };
