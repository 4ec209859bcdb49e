import { NetkitError } from '@netkit/aws-core/errors';

/** The stack kept failing (rolled back, or failed to delete) within one acquire. */
export class EndpointStackFailedError extends NetkitError {}

/** RunTask did not start every requested task. */
export class TaskStartError extends NetkitError {}

/** ECS refused the request itself (a 4xx): answered `rejected`, never retried (ADR 0046). */
export class TaskRejectedError extends NetkitError {}

/** The VPC or the endpoint subnets cannot hold private-DNS interface endpoints (ADR 0046). */
export class EndpointPreconditionError extends NetkitError {}
