import { resolve } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_MODE } from '@netkit/aws-core/clients';
import { defaultPhysicalResourceId } from '@netkit/aws-core/custom-resource';
import { type Logger, silentLogger } from '@netkit/aws-core/observability';
import { type Clock, systemClock } from '@netkit/aws-core/retry';
import { useEmulator, useFunction } from '@netkit/local-aws/vitest';
import { fakeContext, loadEvent, manualClock } from '@netkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSeedStack,
  mutations,
  observe,
  type SeedStack,
  startResponseServer,
} from '../../demo/seed-stack.ts';
import { loadConfig } from '../../src/config.ts';
import { createHandler } from '../../src/create-handler.ts';

const NAT_DELETE_DELAY_MS = 1_500;
const emu = useEmulator({ natDeleteDelayMs: NAT_DELETE_DELAY_MS });
// The handler runs under its template's policy; the test's own set-up and checks keep the test key.
const fn = useFunction(emu, {
  template: resolve(import.meta.dirname, '../../../../infra/nat-reaper/template.yaml'),
  logicalId: 'Function',
});

let responses: Awaited<ReturnType<typeof startResponseServer>>;
beforeAll(async () => {
  responses = await startResponseServer();
});
afterAll(() => responses.close());

function setup(clock: Clock = systemClock, logger: Logger = silentLogger) {
  // The SDK retry settings of the shipped clients, so the SDK's own attempts run out as in Lambda.
  const ec2 = new EC2Client({
    ...emu().clientConfig,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    retryMode: DEFAULT_RETRY_MODE,
  });
  const fnEc2 = new EC2Client({
    ...fn().clientConfig,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    retryMode: DEFAULT_RETRY_MODE,
  });
  const cfn = new CloudFormationClient(fn().clientConfig);
  const handler = createHandler({ ec2: fnEc2, cfn, logger, clock }, loadConfig({}));
  return { ec2, handler };
}

function request(
  kind: 'create' | 'update' | 'delete',
  name: string,
  stack: SeedStack,
  props: Record<string, unknown> = {},
) {
  const event = loadEvent(`cloudformation/${kind}`);
  event.ResponseURL = responses.url(name);
  event.ResourceProperties = {
    ServiceToken: event.ServiceToken,
    VpcId: stack.vpcId,
    NatGatewayIds: [stack.natGatewayId],
    RouteTableIds: [stack.privateRouteTableId, stack.publicRouteTableId],
    InternetGatewayId: stack.internetGatewayId,
    ...props,
  };
  return event;
}

const bodiesFor = (name: string) =>
  responses.received.filter((r) => r.url?.startsWith(`/cfn-response/${name}?`)).map((r) => r.body);

describe('nat-reaper against the emulator', () => {
  it('tears the seed stack down, waiting for the NAT deletion before releasing its EIP, and PUTs the exact response', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await emu().resetCalls();
    const event = request('create', 'full', stack);
    const started = Date.now();
    // Act
    await handler(event, fakeContext(120_000));
    const elapsed = Date.now() - started;
    // Assess
    const put = responses.received.find((r) => r.url === '/cfn-response/full?X-Amz-Signature=abc123');
    expect(put?.method).toBe('PUT');
    expect(put?.headers['content-type']).toBe('');
    expect(bodiesFor('full')).toEqual([
      {
        Status: 'SUCCESS',
        PhysicalResourceId: defaultPhysicalResourceId(event.StackId, 'NatReaper'),
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'NatReaper',
        Data: {
          DryRun: 'false',
          VpcId: stack.vpcId,
          DeletedRoutes: `${stack.privateRouteTableId} 0.0.0.0/0,${stack.publicRouteTableId} 0.0.0.0/0`,
          DeletedNatGateways: stack.natGatewayId,
          ReleasedEips: stack.allocationId,
          DetachedInternetGateway: stack.internetGatewayId,
          DeletedInternetGateway: stack.internetGatewayId,
          AlreadyGone: '',
          UnlistedRouteTables: '',
        },
      },
    ]);
    expect(await observe(ec2, stack)).toEqual({
      natState: 'deleted',
      eipCount: 0,
      igwCount: 0,
      defaultRoutes: [],
    });
    // It waited for the deletion and released the EIP in one call: the emulator fails ReleaseAddress with
    // InvalidIPAddress.InUse while the NAT is deleting. That it polled rather than slept a fixed time is
    // proven by the DescribeNatGateways count below (and on a manual clock in the unit tests), not by
    // wall time, which a loaded machine stretches without bound.
    expect(elapsed).toBeGreaterThanOrEqual(NAT_DELETE_DELAY_MS);
    const calls = await emu().calls();
    expect(mutations(calls)).toEqual({
      'ec2:DeleteRoute': 2,
      'ec2:DeleteNatGateway': 1,
      'ec2:ReleaseAddress': 1,
      'ec2:DetachInternetGateway': 1,
      'ec2:DeleteInternetGateway': 1,
    });
    expect(calls['ec2:DescribeNatGateways']).toBeGreaterThan(2);
  });

  it('answers FAILED and deletes nothing when a route table belongs to another VPC', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    const other = await createSeedStack(ec2, '10.1.0.0/16');
    await emu().resetCalls();
    const event = request('create', 'foreign', stack, {
      RouteTableIds: [stack.privateRouteTableId, other.privateRouteTableId],
    });
    // Act
    await handler(event, fakeContext(120_000));
    // Assess
    expect(bodiesFor('foreign')).toEqual([
      {
        Status: 'FAILED',
        Reason: `ValidationError: Not in ${stack.vpcId}: route table ${other.privateRouteTableId} is in ${other.vpcId}. Nothing was changed.`,
        PhysicalResourceId: defaultPhysicalResourceId(event.StackId, 'NatReaper'),
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'NatReaper',
      },
    ]);
    expect(mutations(await emu().calls())).toEqual({});
    expect(await observe(ec2, stack)).toEqual({
      natState: 'available',
      eipCount: 1,
      igwCount: 1,
      defaultRoutes: [stack.publicRouteTableId, stack.privateRouteTableId].sort(),
    });
  });

  it('answers FAILED and deletes nothing when a listed route table does not exist (ADR 0088)', async () => {
    // Prepare: a typo in one id; DescribeRouteTables filtered by route-table-id returns no such table
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await emu().resetCalls();
    const typo = 'rtb-0123456789abcdeff';
    const event = request('create', 'missing-table', stack, {
      RouteTableIds: [stack.privateRouteTableId, typo],
    });
    // Act
    await handler(event, fakeContext(120_000));
    // Assess
    const [body] = bodiesFor('missing-table') as { Status: string; Reason: string }[];
    expect(body?.Status).toBe('FAILED');
    expect(body?.Reason).toMatch(
      new RegExp(`^ValidationError: RouteTableIds not found: ${typo} .*Nothing was changed\\.$`),
    );
    expect(mutations(await emu().calls())).toEqual({});
    expect((await observe(ec2, stack)).natState).toBe('available');
  });

  it('answers SUCCESS with nothing more to do to a second Create after success', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await handler(request('create', 'first', stack), fakeContext(120_000));
    expect(bodiesFor('first')).toEqual([expect.objectContaining({ Status: 'SUCCESS' })]);
    await emu().resetCalls();
    const event = request('create', 'second', stack);
    // Act
    await handler(event, fakeContext(120_000));
    // Assess
    expect(bodiesFor('second')).toEqual([
      {
        Status: 'SUCCESS',
        PhysicalResourceId: defaultPhysicalResourceId(event.StackId, 'NatReaper'),
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'NatReaper',
        Data: {
          DryRun: 'false',
          VpcId: stack.vpcId,
          DeletedRoutes: '',
          DeletedNatGateways: '',
          ReleasedEips: '',
          DetachedInternetGateway: '',
          DeletedInternetGateway: '',
          // The deleted NAT stays visible (state deleted); its EIP and the gateway no longer exist.
          AlreadyGone: `${stack.natGatewayId},${stack.allocationId},${stack.internetGatewayId}`,
          UnlistedRouteTables: '',
        },
      },
    ]);
    expect(mutations(await emu().calls())).toEqual({});
  });

  it('answers Delete with SUCCESS and makes zero EC2 calls', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await emu().resetCalls();
    const event = request('delete', 'delete', stack);
    // Act
    await handler(event, fakeContext(120_000));
    // Assess
    expect(bodiesFor('delete')).toEqual([
      {
        Status: 'SUCCESS',
        PhysicalResourceId: event.PhysicalResourceId,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'NatReaper',
      },
    ]);
    expect(await emu().calls()).toEqual({});
    expect((await observe(ec2, stack)).natState).toBe('available');
  });

  it('reaps once when the same Create is delivered twice at the same time', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    // Act
    await Promise.all([
      handler(request('create', 'twin-a', stack), fakeContext(120_000)),
      handler(request('create', 'twin-b', stack), fakeContext(120_000)),
    ]);
    // Assess
    expect([...bodiesFor('twin-a'), ...bodiesFor('twin-b')]).toEqual([
      expect.objectContaining({ Status: 'SUCCESS' }),
      expect.objectContaining({ Status: 'SUCCESS' }),
    ]);
    expect(await observe(ec2, stack)).toEqual({
      natState: 'deleted',
      eipCount: 0,
      igwCount: 0,
      defaultRoutes: [],
    });
  });

  it('retries DetachInternetGateway through DependencyViolation, then deletes the gateway', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await emu().injectFault({
      service: 'ec2',
      action: 'DetachInternetGateway',
      times: 2,
      code: 'DependencyViolation',
      message: `Network ${stack.vpcId} has some mapped public address(es).`,
    });
    await emu().resetCalls();
    // Act
    await handler(request('create', 'dependency', stack), fakeContext(120_000));
    // Assess
    expect(bodiesFor('dependency')).toEqual([expect.objectContaining({ Status: 'SUCCESS' })]);
    expect((await emu().calls())['ec2:DetachInternetGateway']).toBe(3);
    expect((await observe(ec2, stack)).igwCount).toBe(0);
  });

  it('answers FAILED naming the NAT gateway without the netkit:reapable tag, with 0 mutating calls', async () => {
    // Prepare: the seed stack, tagged, except the NAT gateway.
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await ec2.send(
      new DeleteTagsCommand({ Resources: [stack.natGatewayId], Tags: [{ Key: 'netkit:reapable' }] }),
    );
    await emu().resetCalls();
    // Act
    await handler(request('create', 'untagged', stack), fakeContext(120_000));
    // Assess
    expect(bodiesFor('untagged')).toEqual([
      expect.objectContaining({
        Status: 'FAILED',
        Reason: `ValidationError: Not tagged netkit:reapable="true": NAT gateway ${stack.natGatewayId} has no netkit:reapable tag. Nothing was changed.`,
      }),
    ]);
    expect(mutations(await emu().calls())).toEqual({});
    expect(await observe(ec2, stack)).toEqual({
      natState: 'available',
      eipCount: 1,
      igwCount: 1,
      defaultRoutes: [stack.publicRouteTableId, stack.privateRouteTableId].sort(),
    });
  });

  it('completes a Create within the invocation through a burst of transient 500s on every step', async () => {
    // Prepare: on each call, more consecutive 500s than the SDK's own attempts. The reaper's own
    // waits run on a manual clock: each backoff is recorded and logged, not slept (ADR 0094).
    const clock = manualClock();
    const retries: { step: string; attempt: number; delayMs: number }[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (message: string, details?: unknown) => {
        if (message === 'Transient AWS error; retrying') retries.push(details as (typeof retries)[number]);
      },
    };
    const { ec2, handler } = setup(clock, logger);
    const stack = await createSeedStack(ec2);
    const burst = DEFAULT_MAX_ATTEMPTS + 2;
    const actions = [
      'DescribeNatGateways',
      'DescribeRouteTables',
      'DescribeInternetGateways',
      'DescribeAddresses',
      'DeleteRoute',
      'DeleteNatGateway',
      'ReleaseAddress',
      'DetachInternetGateway',
      'DeleteInternetGateway',
    ];
    for (const action of actions) {
      await emu().injectFault({ service: 'ec2', action, times: burst, status: 500, code: 'InternalError' });
    }
    await emu().resetCalls();
    // Act. Once the SDK's retry quota is spent (about 50 retries per client), each 500 costs one
    // handler retry, and the internet gateway steps back off 1-15 s with jitter: worst case about
    // 2 x 60 s for them plus the rest, typically 80-90 s of waits on the manual clock. The invocation
    // has room for the worst case; the SDK's own sub-second backoff still runs in real time.
    await handler(request('create', 'burst', stack), fakeContext(420_000));
    // Assess
    expect(bodiesFor('burst')).toEqual([
      expect.objectContaining({
        Status: 'SUCCESS',
        Data: expect.objectContaining({
          DeletedNatGateways: stack.natGatewayId,
          ReleasedEips: stack.allocationId,
          DeletedInternetGateway: stack.internetGatewayId,
        }),
      }),
    ]);
    expect(await observe(ec2, stack)).toEqual({
      natState: 'deleted',
      eipCount: 0,
      igwCount: 0,
      defaultRoutes: [],
    });
    const calls = await emu().calls();
    for (const action of [
      'DeleteNatGateway',
      'ReleaseAddress',
      'DetachInternetGateway',
      'DeleteInternetGateway',
    ]) {
      expect(calls[`ec2:${action}`], action).toBe(burst + 1);
      // The SDK gives up before the burst ends, so the reaper retried each step itself.
      expect(
        retries.some((r) => r.step.startsWith(action)),
        `${action} retried by the reaper`,
      ).toBe(true);
    }
    // Each retry waited its step's backoff (equal jitter: half fixed, half random) on the clock.
    for (const { step, attempt, delayMs } of retries) {
      const { baseMs, maxMs } = /^(Detach|Delete)InternetGateway/.test(step)
        ? { baseMs: 1_000, maxMs: 15_000 }
        : step.startsWith('ReleaseAddress')
          ? { baseMs: 250, maxMs: 2_000 }
          : { baseMs: 250, maxMs: 4_000 };
      const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      expect(delayMs, `${step} retry ${attempt}`).toBeGreaterThanOrEqual(Math.round(exp / 2));
      expect(delayMs, `${step} retry ${attempt}`).toBeLessThanOrEqual(exp);
    }
    let next = 0;
    for (const slept of clock.sleeps) if (slept === retries[next]?.delayMs) next++;
    expect(next, 'every logged backoff was slept on the clock, in order').toBe(retries.length);
  }, 480_000);

  it('answers a DryRun with the plan and changes nothing', async () => {
    // Prepare
    const { ec2, handler } = setup();
    const stack = await createSeedStack(ec2);
    await emu().resetCalls();
    // Act
    await handler(request('create', 'dry', stack, { DryRun: 'true' }), fakeContext(120_000));
    // Assess
    expect(bodiesFor('dry')).toEqual([
      expect.objectContaining({
        Status: 'SUCCESS',
        Data: {
          DryRun: 'true',
          VpcId: stack.vpcId,
          DeletedRoutes: '',
          DeletedNatGateways: '',
          ReleasedEips: '',
          DetachedInternetGateway: '',
          DeletedInternetGateway: '',
          RoutesToDelete: `${stack.privateRouteTableId} 0.0.0.0/0,${stack.publicRouteTableId} 0.0.0.0/0`,
          NatGatewaysToDelete: stack.natGatewayId,
          EipsToRelease: stack.allocationId,
          InternetGatewayToDelete: stack.internetGatewayId,
          AlreadyGone: '',
          UnlistedRouteTables: '',
        },
      }),
    ]);
    expect(mutations(await emu().calls())).toEqual({});
  });
});
