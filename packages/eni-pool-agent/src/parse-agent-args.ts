import { parseArgs } from 'node:util';
import { integer, optional, parseConfig } from '@netkit/aws-core/config';
import { ConfigError, echo, ValidationError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { poolSpec, toPoolConfig } from './config.ts';
import type { AgentOptions } from './run-agent.ts';

export const AGENT_USAGE = `Usage: node agent.mjs [options]
Attach a free ENI of the pool (lowest private IP in this AZ) to this instance and set the hostname.

Options (each also read from the environment variable in brackets):
  --pool-tags JSON         tags every pool ENI carries [ENI_POOL_TAGS], e.g. '{"netkit:eni-pool":"app"}'
  --hostname-tag KEY       tag holding the hostname [HOSTNAME_TAG] (default HostName)
  --device-index N         device index to attach at [DEVICE_INDEX] (default 1)
  --timeout SECONDS        how long to wait for a free ENI [ATTACH_TIMEOUT_SECONDS] (default 120)
  --hostname-from-tag      Lambda mode: attach nothing; wait for the instance's hostname tag and set it.
                           Never shuts the instance down; run it at every boot (warm pools)
  --hook-timeout SECONDS   with --hostname-from-tag: how long to wait for the tag, the launch hook's
                           HeartbeatTimeout [HOOK_TIMEOUT_SECONDS] (default 900)
  --no-hostname            do not change the OS hostname
  --dry-run                change nothing; report what would be attached
  --on-failure exit|shutdown   shutdown: power off on failure so Auto Scaling replaces the instance
  -h, --help               this text

Prints one JSON line. Exit codes: 0 ok, 1 failed, 2 bad usage, 3 cannot reach IMDS,
4 pool exhausted, 5 cannot attach to this instance, 6 hostname not set.`;

/** The environment variable each flag overrides. */
const FLAG_VARIABLES: Record<string, string> = {
  'pool-tags': 'ENI_POOL_TAGS',
  'hostname-tag': 'HOSTNAME_TAG',
  'device-index': 'DEVICE_INDEX',
  timeout: 'ATTACH_TIMEOUT_SECONDS',
  'hook-timeout': 'HOOK_TIMEOUT_SECONDS',
};

const { ENI_POOL_TAGS: _unused, ...settingsSpec } = poolSpec;
/** --hostname-from-tag needs no pool tags; it waits up to the launch hook's HeartbeatTimeout (30 s to 7200 s). */
const fromTagSpec = { ...settingsSpec, HOOK_TIMEOUT_SECONDS: optional(integer({ min: 30, max: 7200 }), 900) };

export function parseAgentArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): { help: true } | { help: false; options: AgentOptions } {
  const values = readArgv(argv);
  if (values.help) return { help: true };
  const onFailure = values['on-failure'] ?? 'exit';
  if (onFailure !== 'exit' && onFailure !== 'shutdown')
    throw new ValidationError(`--on-failure ${echo(onFailure)}: expected exit or shutdown`);
  const fromTag = values['hostname-from-tag'] === true;
  if (fromTag && onFailure === 'shutdown')
    throw new ValidationError(
      '--on-failure shutdown cannot be used with --hostname-from-tag: the launch hook decides',
    );
  if (!fromTag && values['hook-timeout'] !== undefined)
    throw new ValidationError('--hook-timeout only applies with --hostname-from-tag');
  const merged = Object.fromEntries(
    Object.entries(FLAG_VARIABLES).map(([flag, name]) => [name, (values[flag] as string) ?? env[name]]),
  );
  const settings = namingFlags(() => {
    if (!fromTag) return { config: toPoolConfig(parseConfig(poolSpec, merged)) };
    const raw = parseConfig(fromTagSpec, merged);
    return {
      config: toPoolConfig({ ...raw, ENI_POOL_TAGS: {} }),
      hookTimeoutMs: raw.HOOK_TIMEOUT_SECONDS * 1_000,
    };
  });
  const dryRun = values['dry-run'] === true;
  const setHostname = values['no-hostname'] !== true;
  const mode = fromTag ? 'hostname-from-tag' : 'attach';
  return { help: false, options: { mode, dryRun, setHostname, onFailure, ...settings } };
}

function readArgv(argv: string[]): Record<string, string | boolean | undefined> {
  const options = {
    ...flags(
      'pool-tags hostname-tag device-index timeout hook-timeout on-failure',
      'hostname-from-tag no-hostname dry-run',
    ),
    help: { type: 'boolean', short: 'h' } as const,
  };
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    throw new ValidationError(`${(error as Error).message}\n\n${AGENT_USAGE}`);
  }
}

/** `parse`, a ConfigError rethrown as a ValidationError naming each bad setting by its flag and variable. */
function namingFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const flag = (variable: string) =>
      Object.keys(FLAG_VARIABLES).find((f) => FLAG_VARIABLES[f] === variable);
    const named = error.issues.map(
      (i) =>
        `--${flag(i.variable)} / ${i.variable}=${i.value === undefined ? '(unset)' : echo(i.value)}: expected ${i.expected}`,
    );
    throw new ValidationError(`Invalid configuration:\n${named.join('\n')}`);
  }
}

/** parseArgs options: the string flags, then the boolean ones (space-separated names). */
export function flags(strings: string, booleans: string): Record<string, { type: 'string' | 'boolean' }> {
  const of = (type: 'string' | 'boolean') => (name: string) => [name, { type }] as const;
  return Object.fromEntries([
    ...strings.split(' ').map(of('string')),
    ...booleans.split(' ').map(of('boolean')),
  ]);
}

/** JSON lines on stderr: stdout carries only the result line. */
export function stderrLogger(): Logger {
  const log =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) =>
      process.stderr.write(
        `${JSON.stringify({ level, message, ...Object.assign({}, ...extra), time: new Date().toISOString() })}\n`,
      );
  return { debug() {}, info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
}
