/** Everything written to stdout/stderr (Powertools logs) while `work` runs, one entry per line. */
export async function captureLogs<T>(work: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const collect = (chunk: unknown) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  process.stdout.write = collect as typeof process.stdout.write;
  process.stderr.write = collect as typeof process.stderr.write;
  try {
    return { value: await work(), lines };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
