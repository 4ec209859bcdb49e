import { ValidationError } from '@netkit/aws-core/errors';
import { describe, expect, it } from 'vitest';
import { parseProperties } from '../../src/properties.ts';

const base = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:nat-reaper',
  VpcId: 'vpc-0123456789abcdef0',
  NatGatewayIds: ['nat-0123456789abcdef0'],
  RouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
  InternetGatewayId: 'igw-0123456789abcdef0',
};

function problem(props: Record<string, unknown>): string {
  try {
    parseProperties(props);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('parseProperties', () => {
  it('reads the properties CloudFormation sends, with ReleaseEips true and DryRun false by default', () => {
    expect(parseProperties(base)).toEqual({
      vpcId: 'vpc-0123456789abcdef0',
      natGatewayIds: ['nat-0123456789abcdef0'],
      routeTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
      internetGatewayId: 'igw-0123456789abcdef0',
      releaseEips: true,
      dryRun: false,
    });
  });

  it('coerces "true"/"false" strings (any case) and real booleans', () => {
    expect(parseProperties({ ...base, ReleaseEips: 'False', DryRun: 'TRUE' })).toMatchObject({
      releaseEips: false,
      dryRun: true,
    });
    expect(parseProperties({ ...base, ReleaseEips: false, DryRun: true })).toMatchObject({
      releaseEips: false,
      dryRun: true,
    });
  });

  it('accepts a comma-separated string as a list, trimming and removing duplicates', () => {
    expect(
      parseProperties({
        ...base,
        RouteTableIds: 'rtb-0123456789abcdef0, rtb-0123456789abcdef0,rtb-0123456789abcdef1',
      }).routeTableIds,
    ).toEqual(['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1']);
  });

  it('accepts an internet gateway alone, and NAT gateways alone', () => {
    expect(
      parseProperties({ VpcId: base.VpcId, InternetGatewayId: base.InternetGatewayId }).natGatewayIds,
    ).toEqual([]);
    expect(
      parseProperties({ VpcId: base.VpcId, NatGatewayIds: base.NatGatewayIds }).internetGatewayId,
    ).toBeUndefined();
  });

  it('names a missing VpcId', () => {
    expect(problem({ ...base, VpcId: undefined })).toContain('VpcId: required');
  });

  it.each([
    ['VpcId', 'vpc-xyz', 'VpcId: expected an id like vpc-'],
    [
      'NatGatewayIds',
      ['nat-0123456789abcdef0', 'subnet-0123456789abcdef0'],
      'NatGatewayIds: expected a list of ids like nat-',
    ],
    ['RouteTableIds', [42], 'RouteTableIds: expected a list of ids like rtb-'],
    ['RouteTableIds', { a: 1 }, 'RouteTableIds: expected a list of ids like rtb-'],
    ['InternetGatewayId', ['igw-0123456789abcdef0'], 'InternetGatewayId: expected an id like igw-'],
    ['ReleaseEips', 'yes', 'ReleaseEips: expected "true" or "false", got "yes"'],
    ['DryRun', 1, 'DryRun: expected "true" or "false", got 1'],
  ])('names %s when its value %j is malformed', (name, value, message) => {
    expect(problem({ ...base, [name]: value })).toContain(message);
  });

  it('rejects an unknown property, so a typo cannot silently reap nothing', () => {
    expect(problem({ ...base, NatGatewayId: 'nat-0123456789abcdef0' })).toContain(
      'unknown property NatGatewayId',
    );
  });

  it('rejects properties that name nothing to reap', () => {
    expect(problem({ VpcId: base.VpcId })).toContain('nothing to reap');
    expect(problem({ VpcId: base.VpcId, RouteTableIds: base.RouteTableIds })).toContain(
      'RouteTableIds: only routes to the given NatGatewayIds or InternetGatewayId are removed',
    );
  });

  it('refuses a list of more ids than a VPC holds route tables (200, Amazon VPC quotas)', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `rtb-${i.toString(16).padStart(17, '0')}`);
    const message = problem({ ...base, RouteTableIds: ids });
    expect(message).toBe('Invalid properties: RouteTableIds: at most 200 ids, got 2000');
    expect(parseProperties({ ...base, RouteTableIds: ids.slice(0, 200) }).routeTableIds).toHaveLength(200);
  });

  it('quotes a bad value bounded, with invisible and bidirectional characters escaped', () => {
    const message = problem({ ...base, VpcId: `vpc-0123456789abcdef0\u202E${'x'.repeat(3_000)}` });
    expect(message).toContain('\\u202E');
    expect(message).not.toContain('\u202E');
    expect(message.length).toBeLessThan(300);
  });

  it('reports every problem at once', () => {
    const message = problem({ VpcId: 'x', DryRun: 'maybe', Extra: 1 });
    expect(message).toContain('unknown property Extra');
    expect(message).toContain('VpcId: expected');
    expect(message).toContain('DryRun: expected');
  });

  it('treats missing ResourceProperties as empty and says what is required', () => {
    expect(() => parseProperties(undefined)).toThrow(/VpcId: required/);
  });
});
