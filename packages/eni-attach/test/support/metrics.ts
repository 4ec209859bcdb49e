import type { HandlerMetrics } from '../../src/create-handler.ts';

/** Metrics that remember what a handler added and how often it published. */
export function recordingMetrics(): HandlerMetrics & {
  added: { name: string; value: number }[];
  published: number;
} {
  const metrics = {
    added: [] as { name: string; value: number }[],
    published: 0,
    addMetric(name: string, _unit: unknown, value: number) {
      metrics.added.push({ name, value });
    },
    publishStoredMetrics() {
      metrics.published++;
    },
  };
  return metrics;
}
