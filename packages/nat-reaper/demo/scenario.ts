import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { BundleHandler, Scenario, ScenarioResult } from '@netkit/demo';
import { createSeedStack, mutations, observe, type SeedStack, startResponseServer } from './seed-stack.ts';

const STACK_ID =
  'arn:aws:cloudformation:us-east-1:123456789012:stack/bootstrap/5b1a8a70-c8a6-11ef-9c3a-0a1b2c3d4e5f';

/** A custom resource request shaped as CloudFormation sends it. */
function cfnRequest(
  requestType: 'Create' | 'Delete',
  responseUrl: string,
  stack: SeedStack,
  physicalResourceId?: string,
) {
  return {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:nat-reaper',
    ResponseURL: responseUrl,
    StackId: STACK_ID,
    RequestId: randomUUID(),
    LogicalResourceId: 'NatReaper',
    ResourceType: 'Custom::NatReaper',
    ...(physicalResourceId ? { PhysicalResourceId: physicalResourceId } : {}),
    ResourceProperties: {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:nat-reaper',
      VpcId: stack.vpcId,
      NatGatewayIds: [stack.natGatewayId],
      RouteTableIds: [stack.privateRouteTableId, stack.publicRouteTableId],
      InternetGatewayId: stack.internetGatewayId,
      ReleaseEips: 'true',
    },
  };
}

const lambdaContext = () => ({
  awsRequestId: randomUUID(),
  functionName: 'nat-reaper',
  getRemainingTimeInMillis: () => 5 * 60_000,
});

interface ResponseBody {
  Status?: string;
  PhysicalResourceId?: string;
  Data?: Record<string, string>;
}

const scenario: Scenario = {
  name: 'nat-reaper',
  title: 'Reap a bootstrap NAT gateway, its EIP, routes and internet gateway through a custom resource',
  async run(ctx): Promise<ScenarioResult> {
    const emu = ctx.emulator;
    const natDeleteDelayMs = ctx.fast ? 1_000 : 3_000;
    const ec2 = new EC2Client(emu.clientConfig);
    const responses = await startResponseServer();
    const checks: Record<string, boolean> = {};
    try {
      await emu.configure({ natDeleteDelayMs });
      ctx.step(
        'Building the seed network: VPC, public + private subnets, IGW, EIP, NAT gateway, default routes',
      );
      const stack = await createSeedStack(ec2);
      ctx.step(
        `NAT ${stack.natGatewayId} (EIP ${stack.allocationId}), IGW ${stack.internetGatewayId} in ${stack.vpcId}`,
      );

      // The bundle runs as the template's function: its credentials map to the template's policy.
      const fn = await emu.iam.registerFromTemplate({
        template: resolve(import.meta.dirname, '../../../infra/nat-reaper/template.yaml'),
        logicalId: 'Function',
      });
      const { handler } = await ctx.loadBundle<{ handler: BundleHandler }>('index', fn.env);
      await emu.resetCalls();

      // Create: the stack's image pull is done; CloudFormation asks the custom resource to reap.
      const started = Date.now();
      await ctx.wait(
        `Create: deleting routes and the NAT gateway, waiting for it to be deleted (emulated ${natDeleteDelayMs / 1000} s), releasing the EIP, removing the IGW`,
        handler(cfnRequest('Create', responses.url('create'), stack), lambdaContext()),
      );
      const teardownMs = Date.now() - started;
      const create = responses.received.find((r) => r.url?.startsWith('/cfn-response/create?'))?.body as
        | ResponseBody
        | undefined;
      ctx.step(`Response body PUT to the ResponseURL: ${JSON.stringify(create)}`);
      const createCalls = await emu.calls();
      const after = await observe(ec2, stack);
      checks.createAnsweredSuccess = create?.Status === 'SUCCESS';
      checks.natDeleted = after.natState === 'deleted';
      checks.eipReleased = after.eipCount === 0;
      checks.igwDeleted = after.igwCount === 0;
      checks.defaultRoutesRemoved = after.defaultRoutes.length === 0;
      // One ReleaseAddress: the reaper waited for the NAT deletion instead of hammering (or sleeping a fixed 60 s).
      checks.releasedOnceAfterDeletion =
        createCalls['ec2:ReleaseAddress'] === 1 && teardownMs >= natDeleteDelayMs;
      ctx.step(
        `State: NAT ${after.natState}, EIPs left ${after.eipCount}, IGWs left ${after.igwCount}, default routes left ${after.defaultRoutes.length}; teardown ${(teardownMs / 1000).toFixed(1)} s for a ${(natDeleteDelayMs / 1000).toFixed(1)} s NAT deletion`,
      );

      // A redelivered Create finds nothing more to do.
      await emu.resetCalls();
      await handler(cfnRequest('Create', responses.url('again'), stack), lambdaContext());
      const again = responses.received.find((r) => r.url?.startsWith('/cfn-response/again?'))?.body as
        | ResponseBody
        | undefined;
      const againMutations = mutations(await emu.calls());
      checks.secondCreateIsNoop = again?.Status === 'SUCCESS' && Object.keys(againMutations).length === 0;
      ctx.step(`Second Create: ${again?.Status}, EC2 mutations ${JSON.stringify(againMutations)}`);

      // Stack deletion: Delete is answered at once without touching anything.
      await emu.resetCalls();
      await handler(
        cfnRequest('Delete', responses.url('delete'), stack, create?.PhysicalResourceId ?? 'NatReaper'),
        lambdaContext(),
      );
      const deleted = responses.received.find((r) => r.url?.startsWith('/cfn-response/delete?'))?.body as
        | ResponseBody
        | undefined;
      const deleteCalls = await emu.calls();
      checks.deleteAnsweredWithoutCalls =
        deleted?.Status === 'SUCCESS' && Object.keys(deleteCalls).length === 0;
      ctx.step(`Delete: ${deleted?.Status} with ${Object.keys(deleteCalls).length} EC2 calls`);

      const ok = Object.values(checks).every(Boolean);
      const failed = Object.entries(checks)
        .filter(([, v]) => !v)
        .map(([k]) => k);
      return {
        ok,
        summary: ok
          ? `NAT, EIP, IGW and ${create?.Data?.DeletedRoutes?.split(',').length ?? 0} routes reaped in ${(teardownMs / 1000).toFixed(1)} s (NAT deletion ${(natDeleteDelayMs / 1000).toFixed(1)} s); re-run and Delete changed nothing`
          : `failed checks: ${failed.join(', ')}`,
        details: {
          checks,
          teardownMs,
          natDeleteDelayMs,
          createResponse: create,
          createCalls,
          secondCreateResponse: again,
          deleteResponse: deleted,
        },
      };
    } finally {
      await responses.close();
      await emu.configure({ natDeleteDelayMs: 0 });
    }
  },
};

export default scenario;
