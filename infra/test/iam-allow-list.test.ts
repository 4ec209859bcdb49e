// Justifies the Resource '*' allow-list with the IAM action table shipped with cfn-lint (from the
// Service Authorization Reference): an allow-listed action must accept no resource type.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { acceptsResourceStar, RESOURCE_STAR_ALLOWED } from '../src/checks/iam.ts';
import { python } from '../src/tools.ts';

type ActionTable = Record<string, { Actions: Record<string, { Resources?: string[] }> }>;
let table: ActionTable;

beforeAll(() => {
  const dir = execFileSync(
    python(),
    ['-c', 'import os, cfnlint.data.AdditionalSpecs as s; print(os.path.dirname(s.__file__))'],
    { encoding: 'utf8' },
  ).trim();
  table = JSON.parse(readFileSync(join(dir, 'Policies.json'), 'utf8')) as ActionTable;
});

function resourceTypes(action: string): string[] | undefined {
  const [service, name] = action.toLowerCase().split(':');
  return table[service ?? '']?.Actions[name ?? '']?.Resources;
}

describe("Resource '*' allow-list", () => {
  it('lists only concrete actions that accept no resource type', () => {
    for (const { action } of RESOURCE_STAR_ALLOWED.filter((e) => !e.action.includes('*'))) {
      expect(table[action.split(':')[0] ?? ''], `${action}: service known`).toBeDefined();
      expect(resourceTypes(action) ?? [], action).toEqual([]);
    }
  });

  it('covers the Describe calls the packages make, none of which accepts a resource type', () => {
    const used = [
      'ec2:DescribeInstances',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeAddresses',
      'ec2:DescribeSubnets',
      'ec2:DescribeNatGateways',
      'ec2:DescribeRouteTables',
      'ec2:DescribeInternetGateways',
      'ec2:DescribeVpcEndpoints',
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeLifecycleHooks',
    ];
    for (const action of used) {
      expect(acceptsResourceStar(action), action).toBe(true);
      expect(
        table[action.split(':')[0] ?? '']?.Actions[action.split(':')[1]?.toLowerCase() ?? ''],
        action,
      ).toBeDefined();
      expect(resourceTypes(action) ?? [], action).toEqual([]);
    }
  });

  it('leaves out the Elastic IP actions, which accept elastic-ip ARNs and so must be scoped', () => {
    for (const action of ['ec2:ReleaseAddress', 'ec2:AssociateAddress', 'ec2:DisassociateAddress']) {
      expect(resourceTypes(action), action).toContain('elastic-ip');
      expect(acceptsResourceStar(action), action).toBe(false);
    }
  });
});
