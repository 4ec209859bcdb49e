import { parseArgs } from 'node:util';
import { integer, optional, parseConfig } from '@netkit/aws-core/config';
import { ConfigError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { poolSpec, toPoolConfig } from './config.ts';
import { UsageError } from './errors.ts';
import type { AgentOptions } from './run-agent.ts';

/** The launch hook's HeartbeatTimeout: 30 s to 7200 s (PutLifecycleHook API reference). */
const hookTimeoutSpec = { HOOK_TIMEOUT_SECONDS: optional(integer({ min: 30, max: 7200 }), 900) };

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

type ParsedAgentArgs = { help: true } | { help: false; options: AgentOptions };

type ArgValues = Record<string, string | boolean | undefined>;
type Env = Record<string, string | undefined>;

/** Command-line flags that override the pool settings' environment variables. */
const POOL_FLAGS: [string, string][] = [
  ['pool-tags', 'ENI_POOL_TAGS'],
  ['hostname-tag', 'HOSTNAME_TAG'],
  ['device-index', 'DEVICE_INDEX'],
  ['timeout', 'ATTACH_TIMEOUT_SECONDS'],
];

export function parseAgentArgs(argv: string[], env: Env): ParsedAgentArgs {
  const values = readArgv(argv);
  if (values.help) return { help: true };
  const onFailure = (values['on-failure'] as string | undefined) ?? 'exit';
  if (onFailure !== 'exit' && onFailure !== 'shutdown')
    throw new UsageError(`--on-failure ${JSON.stringify(onFailure)}: expected exit or shutdown`);
  const mode = values['hostname-from-tag'] ? 'hostname-from-tag' : 'attach';
  if (mode === 'hostname-from-tag' && onFailure === 'shutdown')
    throw new UsageError(
      '--on-failure shutdown cannot be used with --hostname-from-tag: in Lambda mode the launch hook decides the instance’s fate, and a warm-pool boot never gets the tag',
    );
  const hookTimeoutMs = parseHookTimeout(mode, values, env);
  const config = parsePoolSettings(mode, mergeFlags(values, env));
  const dryRun = values['dry-run'] === true;
  const setHostname = values['no-hostname'] !== true;
  return { help: false, options: { mode, dryRun, setHostname, onFailure, config, hookTimeoutMs } };
}

function readArgv(argv: string[]): ArgValues {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...flags(
          'pool-tags hostname-tag device-index timeout hook-timeout on-failure',
          'hostname-from-tag no-hostname dry-run',
        ),
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${AGENT_USAGE}`);
  }
}

/** The pool settings' environment variables, each overridden by its flag when given. */
function mergeFlags(values: ArgValues, env: Env): Env {
  const pick = ([flag, name]: [string, string]) => [
    name,
    typeof values[flag] === 'string' ? values[flag] : env[name],
  ];
  return Object.fromEntries(POOL_FLAGS.map(pick));
}

/** `--hook-timeout` / HOOK_TIMEOUT_SECONDS, which only --hostname-from-tag takes. */
function parseHookTimeout(mode: AgentOptions['mode'], values: ArgValues, env: Env): number | undefined {
  if (mode !== 'hostname-from-tag') {
    if (values['hook-timeout'] === undefined) return undefined;
    throw new UsageError('--hook-timeout only applies with --hostname-from-tag');
  }
  const raw = typeof values['hook-timeout'] === 'string' ? values['hook-timeout'] : env.HOOK_TIMEOUT_SECONDS;
  try {
    return parseConfig(hookTimeoutSpec, { HOOK_TIMEOUT_SECONDS: raw }).HOOK_TIMEOUT_SECONDS * 1_000;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(
      `Invalid configuration:\n--hook-timeout / HOOK_TIMEOUT_SECONDS=${JSON.stringify(raw)}: expected ${error.issues[0]?.expected}`,
    );
  }
}

/** The pool settings (no pool tags needed with --hostname-from-tag), every bad one named with its flag. */
function parsePoolSettings(mode: AgentOptions['mode'], merged: Env) {
  try {
    if (mode === 'attach') return toPoolConfig(parseConfig(poolSpec, merged));
    const { ENI_POOL_TAGS: _unused, ...rest } = poolSpec;
    return toPoolConfig({ ENI_POOL_TAGS: {}, ...parseConfig(rest, merged) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const flag = (variable: string) => POOL_FLAGS.find(([, v]) => v === variable)?.[0];
    const value = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
    const named = error.issues.map(
      (i) => `--${flag(i.variable)} / ${i.variable}=${value(i.value)}: expected ${i.expected}`,
    );
    throw new UsageError(`Invalid configuration:\n${named.join('\n')}`);
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
export function stderrLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) =>
      write(
        `${JSON.stringify({ level, message, ...Object.assign({}, ...extra), time: new Date().toISOString() })}\n`,
      );
  return { debug() {}, info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
}
