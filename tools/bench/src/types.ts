/** A table a benchmark prints and writes to bench/results/<name>.json. */
export interface BenchTable {
  columns: string[];
  rows: (string | number)[][];
}

export interface BenchResult {
  /** File-safe name, e.g. `eip-associator-burst`. */
  name: string;
  title: string;
  tables: BenchTable[];
  /** Machine-readable results written as JSON. */
  data: unknown;
  /** Targets checked, e.g. "<= 4 EC2 calls per delivered event": met or not. */
  targets: { description: string; met: boolean; measured: string }[];
  /** Optional SVG chart (a picture reads better than numbers). */
  svg?: string;
}

export interface BenchOptions {
  /** Smaller runs for the test suite. */
  fast?: boolean;
}

export type Benchmark = (options: BenchOptions) => Promise<BenchResult>;
