import { NetkitError } from '@netkit/aws-core/errors';

/** The stack kept failing (created and rolled back or failed to delete) within one acquire. */
export class EndpointStackFailedError extends NetkitError {}

/** RunTask did not start every requested task. */
export class TaskStartError extends NetkitError {}

/**
 * ECS refused the request itself (a client error such as InvalidParameterException,
 * ClusterNotFoundException or AccessDeniedException): the same request can never succeed, so it is
 * answered `rejected` rather than thrown for Lambda to retry.
 */
export class TaskRejectedError extends NetkitError {}

/**
 * The VPC or the endpoint subnets cannot hold private-DNS interface endpoints: creating the stack
 * would fail (and bill) after minutes. Found with read-only calls before any change; not retried.
 */
export class EndpointPreconditionError extends NetkitError {}
