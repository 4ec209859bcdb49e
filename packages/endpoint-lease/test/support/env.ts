/** A valid environment for unit tests. */
export const validEnv = {
  ENDPOINT_STACK_NAME: 'fargate-endpoints',
  VPC_ID: 'vpc-0123456789abcdef0',
  SUBNET_IDS: '["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]',
  TASK_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0',
  CLUSTER_ARN: 'arn:aws:ecs:us-east-1:123456789012:cluster/jobs',
  TASK_DEFINITION_ARN: 'arn:aws:ecs:us-east-1:123456789012:task-definition/job:3',
};
