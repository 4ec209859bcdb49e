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

/** Records the gauge through a lifecycle-hook run (`run.count`) and returns it. */
export function recordPoolGauge(run: { count(name: string, value: number): void }, gauge: PoolGauge) {
  run.count('PoolSize', gauge.size);
  run.count('PoolFree', gauge.free);
  run.count('PoolExhausted', gauge.exhausted ? 1 : 0);
  return gauge;
}

export { MetricUnit, Metrics };
