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

/** The resource properties as CloudFormation sends them (everything arrives as strings or string lists). */
export type RawProperties = Record<string, unknown>;

const PATTERNS = {
  VpcId: /^vpc-[0-9a-f]{8,17}$/,
  NatGatewayIds: /^nat-[0-9a-f]{8,17}$/,
  RouteTableIds: /^rtb-[0-9a-f]{8,17}$/,
  InternetGatewayId: /^igw-[0-9a-f]{8,17}$/,
} as const;

/** Properties CloudFormation adds itself, accepted and ignored. */
const SYSTEM_PROPERTIES = new Set(['ServiceToken', 'ServiceTimeout']);
const KNOWN = new Set([
  'VpcId',
  'NatGatewayIds',
  'RouteTableIds',
  'InternetGatewayId',
  'ReleaseEips',
  'DryRun',
  ...SYSTEM_PROPERTIES,
]);

const describe = (value: unknown) => echo(value);

/**
 * Most ids one list may name: the default quota of route tables per VPC (Amazon VPC User Guide,
 * "Amazon VPC quotas": 200), far above the NAT gateways a VPC holds (5 per Availability Zone). A
 * longer list is a mistake; it would also make one Describe call filter on more values than EC2 takes.
 */
export const MAX_LISTED_IDS = 200;

function id(
  props: RawProperties,
  name: 'VpcId' | 'InternetGatewayId',
  problems: string[],
): string | undefined {
  const value = props[name];
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || !PATTERNS[name].test(text)) {
    problems.push(
      `${name}: expected an id like ${name === 'VpcId' ? 'vpc-' : 'igw-'}0123456789abcdef0, got ${describe(value)}`,
    );
    return undefined;
  }
  return text;
}

function list(props: RawProperties, name: 'NatGatewayIds' | 'RouteTableIds', problems: string[]): string[] {
  const value = props[name];
  if (value === undefined || value === null || value === '') return [];
  // CloudFormation sends a list as an array of strings; a comma-separated string is accepted too
  // (a CommaDelimitedList parameter passed with !Join, or a single id).
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  const prefix = name === 'NatGatewayIds' ? 'nat-' : 'rtb-';
  const bad = items?.filter((v) => typeof v !== 'string' || !PATTERNS[name].test(v.trim()));
  if (items === undefined || (bad !== undefined && bad.length > 0)) {
    problems.push(
      `${name}: expected a list of ids like ${prefix}0123456789abcdef0, got ${describe(bad?.length ? bad : value)}`,
    );
    return [];
  }
  const ids = [...new Set(items.map((v) => (v as string).trim()))];
  if (ids.length > MAX_LISTED_IDS) {
    problems.push(`${name}: at most ${MAX_LISTED_IDS} ids, got ${ids.length}`);
    return [];
  }
  return ids;
}

function flag(props: RawProperties, name: 'ReleaseEips' | 'DryRun', fallback: boolean, problems: string[]) {
  const value = props[name];
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  problems.push(`${name}: expected "true" or "false", got ${describe(value)}`);
  return fallback;
}

/**
 * Validate and coerce the custom resource properties. Every problem is reported at once in a
 * ValidationError naming the property, before any AWS call.
 */
export function parseProperties(props: RawProperties | undefined): ReapSpec {
  const raw = props ?? {};
  const problems: string[] = [];
  const unknown = Object.keys(raw).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) {
    problems.push(
      `unknown propert${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')} (expected VpcId, NatGatewayIds, RouteTableIds, InternetGatewayId, ReleaseEips, DryRun)`,
    );
  }
  const vpcId = id(raw, 'VpcId', problems);
  if (vpcId === undefined && !problems.some((p) => p.startsWith('VpcId'))) {
    problems.push(
      'VpcId: required (the VPC every NAT gateway, route table and internet gateway must belong to)',
    );
  }
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
  if (problems.length > 0) {
    throw new ValidationError(`Invalid properties: ${problems.join('; ')}`);
  }
  return {
    vpcId: vpcId as string,
    natGatewayIds,
    routeTableIds,
    internetGatewayId,
    releaseEips,
    dryRun,
  };
}
