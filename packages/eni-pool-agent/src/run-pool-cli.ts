// Pool management CLI: `node pool.mjs create ...` and `node pool.mjs status ...`.
import { parseArgs } from 'node:util';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import { optional, parseConfig, patterns, string, stringList, stringMap } from '@netkit/aws-core/config';
import { ConfigError, ValidationError } from '@netkit/aws-core/errors';
import { systemClock } from '@netkit/aws-core/retry';
import { DEFAULT_HOSTNAME_TAG, METADATA_TAG_KEY, TAG_KEY, TAG_VALUE } from './config.ts';
import { type CreatePoolInput, createPool, formatTable, type PoolDeps, poolStatus } from './create-pool.ts';
import { explain } from './errors.ts';
import { parseIpRange } from './ip.ts';
import { flags, stderrLogger } from './parse-agent-args.ts';

const POOL_USAGE = `Usage:
  node pool.mjs create --subnet subnet-... --ip-range 10.0.1.10-10.0.1.15 --tags '{"netkit:eni-pool":"app"}'
                       [--hostname-pattern 'server-a{n}'] [--security-groups sg-1,sg-2]
                       [--hostname-tag HostName] [--description TEXT] [--dry-run] [--region R] [--json]
  node pool.mjs status --tags '{"netkit:eni-pool":"app"}' [--hostname-tag HostName] [--region R] [--json]

create makes one ENI per address (skipping addresses that already have a pool ENI), tagged with
the pool tags and a hostname ({n}: position in the range from 1, {last}: last octet).
Exit codes: 0 ok, 1 AWS failure, 2 bad usage or input (nothing changed).`;

type PoolCommand =
  | { command: 'help' }
  | (CreatePoolInput & { command: 'create'; dryRun: boolean; region?: string; json: boolean })
  | { command: 'status'; tags: Record<string, string>; hostnameTag: string; region?: string; json: boolean };

const spec = {
  '--tags': stringMap({ keyPattern: TAG_KEY, valuePattern: TAG_VALUE, what: 'tag key -> tag value' }),
  '--hostname-tag': optional(
    string({
      pattern: METADATA_TAG_KEY,
      description: 'a tag key instance metadata can serve (letters, digits, + - = . , _ : @)',
    }),
    DEFAULT_HOSTNAME_TAG,
  ),
};

type ArgValues = Record<string, string | boolean | undefined>;

/** Parse and validate the command line; throws ValidationError naming the bad flag. */
export function parsePoolArgs(argv: string[]): PoolCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' };
  if (command !== 'create' && command !== 'status')
    throw new ValidationError(`Unknown command ${JSON.stringify(command)}; expected create or status`);
  const values = readPoolArgv(rest);
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const common = parseCommon(str('tags'), str('hostname-tag'));
  const region = str('region') || undefined;
  const json = values.json === true;
  if (command === 'status') {
    if (str('subnet') || str('ip-range'))
      throw new ValidationError('status takes --tags (and --hostname-tag) only');
    return { command, ...common, region, json };
  }
  const subnetId = str('subnet');
  if (subnetId === undefined || !patterns.subnetId.test(subnetId))
    throw new ValidationError(
      `--subnet ${JSON.stringify(subnetId ?? '(unset)')}: expected a subnet id like subnet-0123456789abcdef0`,
    );
  const ips = parseRange(str('ip-range'));
  const securityGroupIds = parseSecurityGroups(str('security-groups'));
  const hostnamePattern = str('hostname-pattern');
  const description = str('description');
  const dryRun = values['dry-run'] === true;
  const input = { subnetId, ips, hostnamePattern, securityGroupIds, ...common, description, dryRun };
  return { command, ...input, region, json };
}

function readPoolArgv(args: string[]): ArgValues {
  const options = flags(
    'subnet ip-range hostname-pattern security-groups tags hostname-tag description region',
    'dry-run json',
  );
  return validated('', () => parseArgs({ args, strict: true, allowPositionals: false, options }).values);
}

/** `parse`, any error as a ValidationError led by `prefix`. */
function validated<T>(prefix: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new ValidationError(`${prefix}${(error as Error).message}`);
  }
}

/** `--tags` and `--hostname-tag`, which both commands take. */
function parseCommon(tags: string | undefined, hostnameTag: string | undefined) {
  try {
    const parsed = parseConfig(spec, { '--tags': tags, '--hostname-tag': hostnameTag });
    return { tags: parsed['--tags'], hostnameTag: parsed['--hostname-tag'] };
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ValidationError(error.message.replace('Invalid configuration: ', ''));
    throw error;
  }
}

function parseRange(range: string | undefined): string[] {
  if (range === undefined) throw new ValidationError('--ip-range is required, e.g. 10.0.1.10-10.0.1.15');
  return validated('--ip-range ', () => parseIpRange(range));
}

function parseSecurityGroups(groups: string | undefined): string[] | undefined {
  if (groups === undefined) return undefined;
  const list = stringList({ pattern: patterns.securityGroupId, item: 'security group id' });
  return validated(`--security-groups ${JSON.stringify(groups)}: expected `, () => list.parse(groups));
}

export async function runPoolCli(
  argv: string[],
  io: { out(text: string): void; err(text: string): void },
  makeDeps: (region: string | undefined) => PoolDeps,
): Promise<number> {
  let command: PoolCommand;
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
  const deps = makeDeps(command.region);
  try {
    const create = command.command === 'create';
    const rows =
      command.command === 'create'
        ? await createPool(command, deps)
        : await poolStatus(command.tags, command.hostnameTag, deps);
    io.out(command.json ? `${JSON.stringify(rows)}\n` : `${formatTable(rows, create)}\n`);
    return 0;
  } catch (error) {
    io.err(`${explain(error)}\n`);
    return error instanceof ValidationError ? 2 : 1;
  }
}

/** Entry point of dist/pool.mjs. */
export async function poolMain(): Promise<number> {
  return runPoolCli(
    process.argv.slice(2),
    { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
    (region) => ({ ec2: createClient(EC2Client, { region }), clock: systemClock, logger: stderrLogger() }),
  );
}
