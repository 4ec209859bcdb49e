import { echo, ValidationError } from '@netkit/aws-core/errors';

/** What one Create or Update asks the reaper to remove, validated and typed. */
export interface ReapSpec {
  vpcId: string;
  natGatewayIds: string[];
  routeTableIds: string[];
  internetGatewayId: string | undefined;
  releaseEips: boolean;
  dryRun: boolean;
}

/** The resource properties as CloudFormation sends them (strings or string lists). */
export type RawProperties = Record<string, unknown>;

const PATTERNS = {
  VpcId: /^vpc-[0-9a-f]{8,17}$/,
  NatGatewayIds: /^nat-[0-9a-f]{8,17}$/,
  RouteTableIds: /^rtb-[0-9a-f]{8,17}$/,
  InternetGatewayId: /^igw-[0-9a-f]{8,17}$/,
} as const;

const KNOWN = ['VpcId', 'NatGatewayIds', 'RouteTableIds', 'InternetGatewayId', 'ReleaseEips', 'DryRun'];
/** CloudFormation adds these itself: accepted and ignored. */
const ACCEPTED = new Set([...KNOWN, 'ServiceToken', 'ServiceTimeout']);

/** A VPC's default quota of route tables: a longer list is a mistake (and too many filter values). */
const MAX_LISTED_IDS = 200;

const isBlank = (value: unknown) => value === undefined || value === null || value === '';

function id(props: RawProperties, name: 'VpcId' | 'InternetGatewayId', problems: string[]) {
  const value = props[name];
  if (isBlank(value)) return undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (text !== undefined && PATTERNS[name].test(text)) return text;
  const example = name === 'VpcId' ? 'vpc-' : 'igw-';
  problems.push(`${name}: expected an id like ${example}0123456789abcdef0, got ${echo(value)}`);
  return undefined;
}

function list(props: RawProperties, name: 'NatGatewayIds' | 'RouteTableIds', problems: string[]): string[] {
  const value = props[name];
  if (isBlank(value)) return [];
  // An array of strings, or a comma-separated string (a CommaDelimitedList passed with !Join, or one id).
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  const bad = items?.filter((v) => typeof v !== 'string' || !PATTERNS[name].test(v.trim()));
  if (items === undefined || (bad !== undefined && bad.length > 0)) {
    const example = name === 'NatGatewayIds' ? 'nat-' : 'rtb-';
    problems.push(
      `${name}: expected a list of ids like ${example}0123456789abcdef0, got ${echo(bad?.length ? bad : value)}`,
    );
    return [];
  }
  const ids = [...new Set(items.map((v) => (v as string).trim()))];
  if (ids.length <= MAX_LISTED_IDS) return ids;
  problems.push(`${name}: at most ${MAX_LISTED_IDS} ids, got ${ids.length}`);
  return [];
}

function flag(props: RawProperties, name: 'ReleaseEips' | 'DryRun', fallback: boolean, problems: string[]) {
  const value = props[name];
  if (isBlank(value)) return fallback;
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  problems.push(`${name}: expected "true" or "false", got ${echo(value)}`);
  return fallback;
}

/** Every problem is reported at once, naming the property, before any AWS call. */
export function parseProperties(props: RawProperties | undefined): ReapSpec {
  const raw = props ?? {};
  const problems: string[] = [];
  const unknown = Object.keys(raw).filter((k) => !ACCEPTED.has(k));
  if (unknown.length > 0) {
    const noun = unknown.length === 1 ? 'property' : 'properties';
    problems.push(`unknown ${noun} ${unknown.join(', ')} (expected ${KNOWN.join(', ')})`);
  }
  const vpcId = id(raw, 'VpcId', problems);
  if (vpcId === undefined && isBlank(raw.VpcId)) problems.push('VpcId: required');
  const natGatewayIds = list(raw, 'NatGatewayIds', problems);
  const routeTableIds = list(raw, 'RouteTableIds', problems);
  const internetGatewayId = id(raw, 'InternetGatewayId', problems);
  const releaseEips = flag(raw, 'ReleaseEips', true, problems);
  const dryRun = flag(raw, 'DryRun', false, problems);
  if (problems.length === 0 && natGatewayIds.length === 0 && internetGatewayId === undefined) {
    problems.push(
      routeTableIds.length > 0
        ? 'RouteTableIds: only routes to the given NatGatewayIds or InternetGatewayId are removed, and neither is set'
        : 'nothing to reap: set NatGatewayIds and/or InternetGatewayId',
    );
  }
  if (problems.length > 0) throw new ValidationError(`Invalid properties: ${problems.join('; ')}`);
  return { vpcId: vpcId as string, natGatewayIds, routeTableIds, internetGatewayId, releaseEips, dryRun };
}
