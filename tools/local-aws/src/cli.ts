import { parseArgs } from 'node:util';
import { startEmulator } from './index.ts';

const usage =
  'usage: tsx tools/local-aws/src/cli.ts [--port N] [--nat-delete-delay-ms N] [--describe-lag-ms N] [--throttle] [--region R]';

function toInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer\n${usage}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'nat-delete-delay-ms': { type: 'string' },
      'describe-lag-ms': { type: 'string' },
      throttle: { type: 'boolean', default: false },
      region: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = toInt('port', values.port);
  const natDeleteDelayMs = toInt('nat-delete-delay-ms', values['nat-delete-delay-ms']);
  const describeLagMs = toInt('describe-lag-ms', values['describe-lag-ms']);
  const emulator = await startEmulator({
    throttle: values.throttle,
    ...(port !== undefined ? { port } : {}),
    ...(natDeleteDelayMs !== undefined ? { natDeleteDelayMs } : {}),
    ...(describeLagMs !== undefined ? { describeLagMs } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
  });
  console.log(`# local AWS emulator (moto + netkit patches) at ${emulator.url}`);
  console.log('# export these in your shell:');
  for (const [key, value] of Object.entries(emulator.env)) console.log(`export ${key}=${value}`);
  console.log('# Ctrl-C to stop');

  const shutdown = (): void => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // keep the event loop alive until a signal arrives
  setInterval(() => undefined, 1 << 30);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
