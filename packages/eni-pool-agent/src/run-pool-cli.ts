// Pool management CLI: `node pool.mjs create ...` and `node pool.mjs status ...`.
import { parseArgs } from 'node:util';
import { optional, parseConfig, patterns, string, stringList } from '@netkit/aws-core/config';
import { ValidationError } from '@netkit/aws-core/errors';
import { poolSpec } from './config.ts';
import { createPool, formatTable, type PoolDeps, poolStatus } from './create-pool.ts';
import { explain } from './errors.ts';
import { parseIpRange } from './ip.ts';
import { flags } from './parse-agent-args.ts';

const POOL_USAGE = `Usage:
  node pool.mjs create --subnet subnet-... --ip-range 10.0.1.10-10.0.1.15 --tags '{"netkit:eni-pool":"app"}'
                       [--hostname-pattern 'server-a{n}'] [--security-groups sg-1,sg-2]
                       [--hostname-tag HostName] [--description TEXT] [--dry-run] [--region R] [--json]
  node pool.mjs status --tags '{"netkit:eni-pool":"app"}' [--hostname-tag HostName] [--region R] [--json]

create makes one ENI per address (skipping addresses that already have a pool ENI), tagged with
the pool tags and a hostname ({n}: position in the range from 1, {last}: last octet).
Exit codes: 0 ok, 1 AWS failure, 2 bad usage or input (nothing changed).`;

const commonSpec = {
  '--tags': poolSpec.ENI_POOL_TAGS,
  '--hostname-tag': poolSpec.HOSTNAME_TAG,
  '--region': optional(string()),
};

const createSpec = {
  '--subnet': string({
    pattern: patterns.subnetId,
    description: 'a subnet id like subnet-0123456789abcdef0',
  }),
  '--ip-range': { parse: parseIpRange },
  '--hostname-pattern': optional(string()),
  '--security-groups': optional(stringList({ pattern: patterns.securityGroupId, item: 'security group id' })),
  '--description': optional(string()),
};

/** Parse and validate the command line; throws naming the bad flags (ConfigError) or the parse error. */
export function parsePoolArgs(argv: string[]) {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' as const };
  if (command !== 'create' && command !== 'status')
    throw new ValidationError(`Unknown command ${JSON.stringify(command)}; expected create or status`);
  const common = 'tags hostname-tag region';
  const options =
    command === 'create'
      ? flags(`${common} subnet ip-range hostname-pattern security-groups description`, 'json dry-run')
      : flags(common, 'json');
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options });
  const given = Object.fromEntries(
    Object.entries(values).map(([flag, value]) => [`--${flag}`, String(value)]),
  );
  const {
    '--tags': tags,
    '--hostname-tag': hostnameTag,
    '--region': region,
  } = parseConfig(commonSpec, given);
  const shared = { tags, hostnameTag, region, json: values.json === true };
  if (command === 'status') return { command: 'status' as const, ...shared };
  const input = parseConfig(createSpec, given);
  return {
    command: 'create' as const,
    ...shared,
    subnetId: input['--subnet'],
    ips: input['--ip-range'],
    hostnamePattern: input['--hostname-pattern'],
    securityGroupIds: input['--security-groups'],
    description: input['--description'],
    dryRun: values['dry-run'] === true,
  };
}

export async function runPoolCli(
  argv: string[],
  io: { out(text: string): void; err(text: string): void },
  makeDeps: (region: string | undefined) => PoolDeps,
): Promise<number> {
  let command: ReturnType<typeof parsePoolArgs>;
  try {
    command = parsePoolArgs(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${POOL_USAGE}\n`);
    return 2;
  }
  if (command.command === 'help') {
    io.out(`${POOL_USAGE}\n`);
    return 0;
  }
  try {
    const deps = makeDeps(command.region);
    const rows =
      command.command === 'create'
        ? await createPool(command, deps)
        : await poolStatus(command.tags, command.hostnameTag, deps);
    io.out(
      command.json ? `${JSON.stringify(rows)}\n` : `${formatTable(rows, command.command === 'create')}\n`,
    );
    return 0;
  } catch (error) {
    io.err(`${explain(error)}\n`);
    return error instanceof ValidationError ? 2 : 1;
  }
}
