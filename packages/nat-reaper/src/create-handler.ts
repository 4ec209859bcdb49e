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
  /** Clock of the reaper's own waits (NAT polling, retries); the entry passes `systemClock`. */
  clock: Clock;
  /** Clock of the runner's deadline answer. Default: the system clock. */
  runnerClock?: Clock;
  /** PUTs the response to the ResponseURL; the aws-core default in production. */
  send?: ResponseSender;
}

/** Stop our own waits this long before the runner's deadline answer, so the reason names what was pending. */
const OWN_DEADLINE_SLACK_MS = 1_000;

export type NatReaperHandler = (
  event: unknown,
  context: LambdaContextLike,
) => Promise<CustomResourceResponse | undefined>;

/**
 * `config` is a ConfigError when the environment is invalid: the function still answers
 * every request (Create and Update FAILED with the error, which names the variable; Delete
 * SUCCESS), because an unanswered custom resource blocks the stack for up to an hour.
 */
export function createHandler(deps: HandlerDeps, config: Config | ConfigError): NatReaperHandler {
  const handlers = requestHandlers(deps, config);
  return (event, context) =>
    runCustomResource<RawProperties>(event, context, handlers, {
      logger: deps.logger,
      clock: deps.runnerClock ?? systemClock,
      send: deps.send,
      deadlineMarginMs: config instanceof ConfigError ? undefined : config.deadlineMarginMs,
    });
}

/** Create and Update reap (an Update during a rollback changes nothing); Delete never touches anything. */
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
      if (status !== undefined && ROLLBACK_STATUSES.has(status)) {
        logger.info('Update during a stack rollback: answering SUCCESS without touching anything', {
          stackStatus: status,
        });
        return { data: rollbackData(request.ResourceProperties?.VpcId) };
      }
      return reapRequest(request, work);
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

/** One Create or Update: check the properties, then plan and (unless DryRun) execute within the deadline. */
async function reapOnce(
  { ec2, clock, logger }: HandlerDeps,
  config: Config | ConfigError,
  request: CustomResourceRequest<RawProperties>,
  work: WorkContext,
) {
  if (config instanceof ConfigError) throw config;
  // Properties are checked before any AWS call; a ValidationError is answered FAILED naming the property.
  const spec = parseProperties(request.ResourceProperties);
  const deadline = Deadline.in(Math.max(0, work.remainingMs() - OWN_DEADLINE_SLACK_MS), clock);
  const { plan, report } = await reap(
    spec,
    { ec2, clock, logger },
    {
      deadline,
      signal: work.signal,
      reapableTagValue: config.reapableTagValue,
      natPollMaxMs: config.natPollMaxMs,
      eipReleaseTimeoutMs: config.eipReleaseTimeoutMs,
    },
  );
  return { data: report === undefined ? planData(plan) : reportData(spec.vpcId, report) };
}
