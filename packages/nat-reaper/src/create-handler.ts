import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  type CustomResourceHandlers,
  type CustomResourceRequest,
  type CustomResourceResponse,
  type ResponseSender,
  runCustomResource,
  type WorkContext,
} from '@netkit/aws-core/custom-resource';
import { ConfigError } from '@netkit/aws-core/errors';
import type { Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, type LambdaContextLike, systemClock } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import { parseProperties, type RawProperties } from './properties.ts';
import { reap } from './reap.ts';
import { planData, reportData } from './reap-data.ts';
import { ROLLBACK_STATUSES, rollbackData, stackStatus } from './rollback.ts';

export interface HandlerDeps {
  ec2: EC2Client;
  /** DescribeStacks on the requesting stack: an Update during its rollback changes nothing. */
  cfn: CloudFormationClient;
  logger: Logger;
  clock: Clock;
  /** Of the runner's deadline answer; the reaper's own waits use `clock`. */
  runnerClock?: Clock;
  send?: ResponseSender;
}

/** Our own waits stop this long before the runner's deadline answer, so the reason names what was pending. */
const OWN_DEADLINE_SLACK_MS = 1_000;

/** With an invalid environment (`ConfigError`) every request is still answered: Create/Update FAILED, Delete SUCCESS. */
export function createHandler(deps: HandlerDeps, config: Config | ConfigError) {
  const handlers = requestHandlers(deps, config);
  return (event: unknown, context: LambdaContextLike): Promise<CustomResourceResponse | undefined> =>
    runCustomResource<RawProperties>(event, context, handlers, {
      logger: deps.logger,
      clock: deps.runnerClock ?? systemClock,
      send: deps.send,
      deadlineMarginMs: config instanceof ConfigError ? undefined : config.deadlineMarginMs,
    });
}

function requestHandlers(
  deps: HandlerDeps,
  config: Config | ConfigError,
): CustomResourceHandlers<RawProperties> {
  const { cfn, logger } = deps;
  const reapRequest = (request: CustomResourceRequest<RawProperties>, work: WorkContext) =>
    reapOnce(deps, config, request, work);
  return {
    create: reapRequest,
    update: async (request, work) => {
      // Checked first: even with a bad configuration a rollback must not fail.
      const status = await stackStatus(cfn, request.StackId);
      if (status === undefined || !ROLLBACK_STATUSES.has(status)) return reapRequest(request, work);
      logger.info('Update during a stack rollback: answering SUCCESS without touching anything', {
        stackStatus: status,
      });
      return { data: rollbackData(request.ResourceProperties?.VpcId) };
    },
    // Delete never touches anything, so the stack can always be deleted.
    delete: async (request) => {
      logger.info('Delete: nothing to remove (the reaped resources are gone by design)', {
        physicalResourceId: request.PhysicalResourceId,
      });
      return undefined;
    },
  };
}

async function reapOnce(
  { ec2, clock, logger }: HandlerDeps,
  config: Config | ConfigError,
  request: CustomResourceRequest<RawProperties>,
  work: WorkContext,
) {
  if (config instanceof ConfigError) throw config;
  const spec = parseProperties(request.ResourceProperties);
  const deadline = Deadline.in(Math.max(0, work.remainingMs() - OWN_DEADLINE_SLACK_MS), clock);
  const { reapableTagValue, natPollMaxMs, eipReleaseTimeoutMs } = config;
  const options = { deadline, signal: work.signal, reapableTagValue, natPollMaxMs, eipReleaseTimeoutMs };
  const { plan, report } = await reap(spec, { ec2, clock, logger }, options);
  return { data: report === undefined ? planData(plan) : reportData(spec.vpcId, report) };
}
