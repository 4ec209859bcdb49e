import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { useEmulator } from '@netkit/local-aws/vitest';
import { fakeContext } from '@netkit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePool, associations, beginLaunches, launchInstances, POOL_TAGS } from '../support/fleet.ts';
import { associatorHandler, TEMPLATE, TEMPLATE_PARAMETERS } from '../support/function.ts';

// The IAM gate end to end: the package's real handler, under its template's policy as the emulator
// evaluates it, with one action removed from a scratch copy of the template.
const emu = useEmulator();
let scratch: string | undefined;

afterEach(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** A scratch copy of the template without `line` (it must be there exactly once). */
async function templateWithout(line: string): Promise<string> {
  const text = await readFile(TEMPLATE, 'utf8');
  expect(text.split(`${line}\n`)).toHaveLength(2);
  scratch = await mkdtemp(join(tmpdir(), 'eip-associator-iam-'));
  const path = join(scratch, 'template.yaml');
  await writeFile(path, text.replace(`${line}\n`, ''));
  return path;
}

async function launchOne() {
  const e = emu();
  const ec2 = new EC2Client(e.clientConfig);
  const [instance] = await launchInstances(ec2, 1);
  const pool = await allocatePool(ec2, 1, POOL_TAGS);
  const [event] = await beginLaunches(e, [instance!]);
  return { ec2, instance: instance!, pool, event: event! };
}

describe('least privilege, proven against the emulator', () => {
  it('associates under the template policy as written, with no refusal', async () => {
    // Prepare
    const { ec2, instance, pool, event } = await launchOne();
    const identity = await emu().iam.registerFromTemplate({
      template: TEMPLATE,
      logicalId: 'Function',
      parameters: TEMPLATE_PARAMETERS,
    });

    // Act
    const result = await associatorHandler(identity)(event, fakeContext(60_000));

    // Assess
    expect(result.status).toBe('done');
    expect((await associations(ec2, pool)).get(pool[0]!)).toBe(instance);
    expect(await emu().iam.refusals()).toEqual([]);
  });

  it('fails with UnauthorizedOperation naming ec2:DescribeAddresses when the template no longer grants it', async () => {
    // Prepare
    const { ec2, pool, event } = await launchOne();
    const identity = await emu().iam.registerFromTemplate({
      template: await templateWithout('                - ec2:DescribeAddresses'),
      logicalId: 'Function',
      parameters: TEMPLATE_PARAMETERS,
    });

    // Act
    const outcome = await associatorHandler(identity)(event, fakeContext(60_000)).then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error: error as Error }),
    );

    // Assess: the AWS error, as EC2 answers it, names the action; the launch is not served.
    expect(outcome.value).toBeUndefined();
    expect(outcome.error?.name).toBe('UnauthorizedOperation');
    expect(outcome.error?.message).toContain(
      `User: ${identity.principalArn} is not authorized to perform: ec2:DescribeAddresses on resource: * ` +
        'because no identity-based policy allows the ec2:DescribeAddresses action',
    );
    expect([...(await associations(ec2, pool)).values()]).toEqual([undefined]);
    const refused = await emu().iam.takeRefusals();
    expect(refused.map((r) => r.action)).toContain('ec2:DescribeAddresses');
  });

  it('fails with AccessDenied naming autoscaling:CompleteLifecycleAction when the template no longer grants it', async () => {
    // Prepare
    const { event } = await launchOne();
    const identity = await emu().iam.registerFromTemplate({
      template: await templateWithout('                - autoscaling:CompleteLifecycleAction'),
      logicalId: 'Function',
      parameters: TEMPLATE_PARAMETERS,
    });

    // Act
    const outcome = await associatorHandler(identity)(event, fakeContext(60_000)).then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error: error as Error }),
    );

    // Assess
    expect(outcome.error?.name).toBe('AccessDenied');
    expect(outcome.error?.message).toContain('autoscaling:CompleteLifecycleAction');
    expect(await emu().lifecycle.completions()).toEqual([]);
    expect((await emu().iam.takeRefusals()).map((r) => r.action)).toContain(
      'autoscaling:CompleteLifecycleAction',
    );
  });
});
