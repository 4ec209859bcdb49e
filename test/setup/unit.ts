// Every test file under test/unit runs with no network and no emulator: a connection to anything
// but loopback, and any child process (moto_server included), fails the test that tried, naming
// what it tried. Loopback stays open for in-process fakes (e.g. an IMDS server). Other files (the
// integration layer) run unguarded; the guard is lifted after each unit file, since a vitest worker
// process runs several files one after another.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';

export const UNIT_LAYER_REFUSAL = 'the unit layer (test/unit) must not';

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/i;
const PROCESS_FUNCTIONS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];

function hostOf(args: unknown[]): string | undefined {
  const [first, second] = args;
  if (Array.isArray(first)) return hostOf(first);
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; port?: unknown; path?: unknown };
    if (options.port === undefined && options.host === undefined && options.path) return undefined; // a Unix socket or pipe
    return options.host ?? 'localhost';
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return typeof second === 'string' ? second : 'localhost';
  }
  return undefined; // a path
}

type Restore = () => void;

function guardNetwork(): Restore {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const host = hostOf(args);
    if (host !== undefined && !LOOPBACK.test(host)) {
      throw new Error(`${UNIT_LAYER_REFUSAL} touch the network: connect to ${host}. Mock the SDK client.`);
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  return () => {
    net.Socket.prototype.connect = connect;
  };
}

function guardProcesses(): Restore {
  const module = childProcess as unknown as Record<string, unknown>;
  const originals = PROCESS_FUNCTIONS.map((name) => [name, module[name]] as const);
  for (const name of PROCESS_FUNCTIONS) {
    module[name] = (command: unknown) => {
      throw new Error(
        `${UNIT_LAYER_REFUSAL} start a process (${name} ${String(command)}): the emulator and other processes belong in test/integration.`,
      );
    };
  }
  syncBuiltinESMExports();
  return () => {
    for (const [name, original] of originals) module[name] = original;
    syncBuiltinESMExports();
  };
}

const restores: Restore[] = [];

beforeAll(() => {
  const file = (expect.getState().testPath ?? '').replaceAll('\\', '/');
  if (file.includes('/test/unit/')) restores.push(guardNetwork(), guardProcesses());
});

afterAll(() => {
  for (const restore of restores.splice(0)) restore();
});
