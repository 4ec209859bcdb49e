import type { HandlerDeps } from '../../src/create-handler.ts';

/** Metrics that remember what a handler added (and the dimensions) and how often it published. */
export function recordingMetrics() {
  const metrics = {
    added: [] as { name: string; value: number }[],
    dimensions: [] as [string, string][],
    published: 0,
    addMetric(name: string, _unit: unknown, value: number) {
      metrics.added.push({ name, value });
    },
    addDimension(name: string, value: string) {
      metrics.dimensions.push([name, value]);
    },
    publishStoredMetrics() {
      metrics.published++;
    },
  };
  return metrics as typeof metrics & HandlerDeps['metrics'];
}
