/** A VPC, two private subnets, a route table, a task security group, a cluster and a Fargate task definition. */
import { resolve } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';
import { CreateClusterCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { Emulator, FunctionIdentity } from '@netkit/local-aws';
import { type Config, loadAcquireConfig } from '../../src/config.ts';
import type { AcquireHandlerDeps } from '../../src/create-acquire-handler.ts';

type Clients = { cfn: CloudFormationClient; ec2: EC2Client; ecs: ECSClient };

export interface World {
  env: Record<string, string>;
  config: Config;
  /** The test's own unrestricted clients, for set-up and checks. */
  clients: Clients;
  /** Each function's identity under its template's policy for this world. */
  functions: Record<'acquire' | 'reaper', FunctionIdentity>;
}

export const TEMPLATE = resolve(import.meta.dirname, '../../../../infra/endpoint-lease/template.yaml');

function clientsOf(identity: FunctionIdentity): Clients {
  return {
    cfn: new CloudFormationClient(identity.clientConfig),
    ec2: new EC2Client(identity.clientConfig),
    ecs: new ECSClient(identity.clientConfig),
  };
}

export async function buildWorld(emu: Emulator, extraEnv: Record<string, string> = {}): Promise<World> {
  const ec2 = new EC2Client(emu.clientConfig);
  const ecs = new ECSClient(emu.clientConfig);
  const cfn = new CloudFormationClient(emu.clientConfig);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  // Private DNS for interface endpoints needs both attributes (a new VPC has DNS hostnames off).
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } }));
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  const subnets: string[] = [];
  for (const [i, az] of [`${emu.region}a`, `${emu.region}b`].entries()) {
    const s = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: az }),
    );
    subnets.push(s.Subnet!.SubnetId!);
  }
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'task', Description: 'tasks', VpcId: vpcId }),
  );
  const cluster = await ecs.send(new CreateClusterCommand({ clusterName: 'jobs' }));
  // As the template makes them: the task definition runs with the template's two task roles, and
  // CloudFormation creates the endpoint stack with the template's stack role (both passed by acquire).
  const role = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'job',
      executionRoleArn: role('TaskExecutionRole'),
      taskRoleArn: role('TaskRole'),
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        {
          name: 'app',
          image: 'public.ecr.aws/docker/library/busybox:latest',
          essential: true,
          cpu: 256,
          memory: 512,
        },
      ],
    }),
  );
  const env: Record<string, string> = {
    ENDPOINT_STACK_NAME: 'fargate-endpoints',
    VPC_ID: vpcId,
    SUBNET_IDS: JSON.stringify(subnets),
    TASK_SECURITY_GROUP_IDS: sg.GroupId!,
    CLUSTER_ARN: cluster.cluster!.clusterArn!,
    TASK_DEFINITION_ARN: td.taskDefinition!.taskDefinitionArn!,
    CFN_ROLE_ARN: role('EndpointStackRole'),
    CONSISTENCY_SETTLE_SECONDS: '0',
    // These runs shift the reaper's clock relative to the endpoints' creation; the default clock-hour
    // anchor is covered by the unit tests of policy.ts.
    BILLING_ANCHOR: 'endpoint-creation',
    ...extraEnv,
  };
  const config = loadAcquireConfig(env);
  const register = (logicalId: string) =>
    emu.iam.registerFromTemplate({
      template: TEMPLATE,
      logicalId,
      parameters: {
        EndpointStackName: config.stackName,
        VpcId: vpcId,
        VpcCidr: '10.20.0.0/16',
        S3PrefixListId: 'pl-63a5400a',
        SubnetIds: subnets,
        RouteTableIds: 'rtb-0',
        ContainerImage: 'public.ecr.aws/docker/library/busybox:latest',
      },
      // What the template's Cluster and TaskDefinition are in this world.
      physicalIds: { Cluster: 'jobs', TaskDefinition: td.taskDefinition!.taskDefinitionArn! },
    });
  const functions = { acquire: await register('AcquireFunction'), reaper: await register('ReaperFunction') };
  return { env, config, clients: { cfn, ec2, ecs }, functions };
}

/** The deps of a function's handler: its clients under that function's policy. */
export function depsFor(
  world: World,
  clock: AcquireHandlerDeps['clock'],
  fn: keyof World['functions'] = 'acquire',
): AcquireHandlerDeps {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const unread = { addMetric() {}, publishStoredMetrics() {} };
  return {
    ...clientsOf(world.functions[fn]),
    clock,
    logger: quiet,
    metrics: unread as unknown as AcquireHandlerDeps['metrics'],
  };
}
