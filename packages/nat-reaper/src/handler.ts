import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createClient } from '@netkit/aws-core/clients';
import {
  type CustomResourceRequest,
  type CustomResourceResponse,
  type ResponseSender,
  runCustomResource,
  type WorkContext,
} from '@netkit/aws-core/custom-resource';
import { ConfigError } from '@netkit/aws-core/errors';
import { createObservability, type Logger } from '@netkit/aws-core/observability';
import { type Clock, Deadline, type LambdaContextLike, systemClock } from '@netkit/aws-core/retry';
import { type Config, loadConfig } from './config.ts';
import { parseProperties, type RawProperties } from './properties.ts';
import { planData, reap, reportData } from './reap.ts';
import { ROLLBACK_STATUSES, rollbackData, stackStatus } from './rollback.ts';

export interface HandlerDeps {
  ec2: EC2Client;
  /** DescribeStacks on the requesting stack: an Update during its rollback changes nothing. */
  cfn: CloudFormationClient;
  logger: Logger;
  /** Clock of the reaper's own waits (NAT polling, retries). Default: the system clock. */
  clock?: Clock;
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
  const clock = deps.clock ?? systemClock;
  const { ec2, cfn, logger } = deps;

  const reapRequest = async (request: CustomResourceRequest<RawProperties>, work: WorkContext) => {
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
        reapableTagValue: config.REAPABLE_TAG_VALUE,
        natPollMaxMs: config.NAT_POLL_MAX_MS,
        eipReleaseTimeoutMs: config.EIP_RELEASE_TIMEOUT_MS,
      },
    );
    return { data: report === undefined ? planData(plan) : reportData(spec.vpcId, report) };
  };

  return (event, context) =>
    runCustomResource<RawProperties>(
      event,
      context,
      {
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
      },
      {
        logger,
        clock: deps.runnerClock ?? systemClock,
        send: deps.send,
        deadlineMarginMs: config instanceof ConfigError ? undefined : config.RESPONSE_MARGIN_MS,
      },
    );
}

const { logger, tracer } = createObservability('nat-reaper');
const config = loadConfigOrError();
const ec2 = createClient(EC2Client, { tracer });
const cfn = createClient(CloudFormationClient, { tracer });

export const handler = createHandler({ ec2, cfn, logger }, config);

function loadConfigOrError(): Config | ConfigError {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error('Invalid configuration; Create and Update will be answered FAILED', {
      error: error.message,
    });
    return error;
  }
}
