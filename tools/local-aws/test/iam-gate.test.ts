import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../src/index.ts';
import { useEmulator } from '../src/vitest.ts';
import { awsError, clients, launch, network } from './support/aws.ts';

const emu = useEmulator();
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const ARN = 'arn:aws:ec2:us-east-1:123456789012';

const eniPolicy: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Describe', Effect: 'Allow', Action: 'ec2:DescribeNetworkInterfaces', Resource: '*' },
    {
      Sid: 'CreateTagged',
      Effect: 'Allow',
      Action: 'ec2:CreateNetworkInterface',
      Resource: `${ARN}:network-interface/*`,
      Condition: { StringEquals: { 'aws:RequestTag/owner': 'fn' } },
    },
    { Sid: 'InSubnets', Effect: 'Allow', Action: 'ec2:CreateNetworkInterface', Resource: `${ARN}:subnet/*` },
    {
      Sid: 'TagOnCreate',
      Effect: 'Allow',
      Action: 'ec2:CreateTags',
      Resource: `${ARN}:network-interface/*`,
      Condition: { StringEquals: { 'ec2:CreateAction': 'CreateNetworkInterface' } },
    },
    {
      Sid: 'Own',
      Effect: 'Allow',
      Action: ['ec2:AttachNetworkInterface', 'ec2:DeleteNetworkInterface'],
      Resource: `${ARN}:network-interface/*`,
      Condition: { StringEquals: { 'aws:ResourceTag/owner': 'fn' } },
    },
    {
      Sid: 'Group',
      Effect: 'Allow',
      Action: 'ec2:AttachNetworkInterface',
      Resource: `${ARN}:instance/*`,
      Condition: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': 'web' } },
    },
  ],
};

const ownTag = { ResourceType: 'network-interface' as const, Tags: [{ Key: 'owner', Value: 'fn' }] };

describe('IAM gate: calls signed with a registered key', () => {
  it('leaves the default test key unrestricted', async () => {
    const { ec2 } = clients(emu());
    const net = await network(ec2);
    await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    expect(await emu().iam.refusals()).toEqual([]);
  });

  // EC2 API reference, "Error codes for the Amazon EC2 API": UnauthorizedOperation, 403; the
  // message names the principal, the action and the resource.
  it('refuses EC2 with UnauthorizedOperation (403) naming the action and resource, and records it', async () => {
    const { ec2: admin } = clients(emu());
    const net = await network(admin);
    const fn = await emu().iam.register({ policies: [eniPolicy] });
    const ec2 = new EC2Client({ ...fn.clientConfig, maxAttempts: 1 });
    // No owner tag: the network-interface statement's aws:RequestTag condition fails.
    const error = await awsError(
      ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA })),
      'UnauthorizedOperation',
      403,
    );
    expect(error.message).toBe(
      `You are not authorized to perform this operation. User: ${fn.principalArn} is not authorized to perform: ` +
        `ec2:CreateNetworkInterface on resource: ${ARN}:network-interface/* because no identity-based policy ` +
        'allows the ec2:CreateNetworkInterface action',
    );
    expect(await emu().iam.takeRefusals()).toEqual([
      expect.objectContaining({ action: 'ec2:CreateNetworkInterface', resourceType: 'network-interface' }),
    ]);
    // With the tag it is allowed: the network-interface, the subnet and the tag-on-create CreateTags.
    const created = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA, TagSpecifications: [ownTag] }),
    );
    expect(created.NetworkInterface?.NetworkInterfaceId).toMatch(/^eni-/);
    expect(await emu().iam.refusals()).toEqual([]);
  });

  // EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation": CreateTags is
  // authorized with ec2:CreateAction when tags are applied by a create action.
  it('authorizes tag-on-create as ec2:CreateTags, and a direct CreateTags without ec2:CreateAction is refused', async () => {
    const { ec2: admin } = clients(emu());
    const net = await network(admin);
    const noTagging = structuredClone(eniPolicy);
    (noTagging.Statement as unknown[]).splice(3, 1);
    const fn = await emu().iam.register({ policies: [noTagging] });
    const ec2 = new EC2Client({ ...fn.clientConfig, maxAttempts: 1 });
    const error = await awsError(
      ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA, TagSpecifications: [ownTag] })),
      'UnauthorizedOperation',
    );
    expect(error.message).toContain('ec2:CreateTags on resource');
    const full = await emu().iam.register({ policies: [eniPolicy] });
    const eni = await admin.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    await awsError(
      new EC2Client({ ...full.clientConfig, maxAttempts: 1 }).send(
        new CreateTagsCommand({
          Resources: [eni.NetworkInterface!.NetworkInterfaceId!],
          Tags: [{ Key: 'owner', Value: 'fn' }],
        }),
      ),
      'UnauthorizedOperation',
    );
    expect((await emu().iam.takeRefusals()).map((r) => r.action)).toEqual([
      'ec2:CreateTags',
      'ec2:CreateTags',
    ]);
  });

  // Service Authorization Reference, EC2 AttachNetworkInterface: instance and network-interface
  // are both required resource types, each with its aws:ResourceTag from the emulator's tags.
  it('authorizes every resource of the call with that resource tags from the emulator state', async () => {
    const { ec2: admin } = clients(emu());
    const net = await network(admin);
    const [instance] = await launch(admin, net.subnetA);
    const instanceId = instance!.InstanceId!;
    const fn = await emu().iam.register({ policies: [eniPolicy] });
    const ec2 = new EC2Client({ ...fn.clientConfig, maxAttempts: 1 });
    const eni = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA, TagSpecifications: [ownTag] }),
    );
    const eniId = eni.NetworkInterface!.NetworkInterfaceId!;
    const attach = new AttachNetworkInterfaceCommand({
      InstanceId: instanceId,
      NetworkInterfaceId: eniId,
      DeviceIndex: 1,
    });
    const error = await awsError(ec2.send(attach), 'UnauthorizedOperation', 403);
    expect(error.message).toContain(`ec2:AttachNetworkInterface on resource: ${ARN}:instance/${instanceId}`);
    await admin.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web' }],
      }),
    );
    await ec2.send(attach);
    // An ENI without the owner tag cannot be deleted by the function.
    const foreign = await admin.send(new CreateNetworkInterfaceCommand({ SubnetId: net.subnetA }));
    await awsError(
      ec2.send(
        new DeleteNetworkInterfaceCommand({
          NetworkInterfaceId: foreign.NetworkInterface!.NetworkInterfaceId!,
        }),
      ),
      'UnauthorizedOperation',
    );
    expect((await emu().iam.takeRefusals()).map((r) => `${r.action} ${r.resourceType}`)).toEqual([
      'ec2:AttachNetworkInterface instance',
      'ec2:DeleteNetworkInterface network-interface',
    ]);
  });

  // Auto Scaling API reference, "Common Errors": AccessDenied, HTTP 403 (Query XML).
  it('refuses Auto Scaling with AccessDenied (403) and ECS with AccessDeniedException (400)', async () => {
    const fn = await emu().iam.register({ policies: [eniPolicy] });
    const autoscaling = new AutoScalingClient({ ...fn.clientConfig, maxAttempts: 1 });
    const denied = await awsError(
      autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: 'web',
          LifecycleHookName: 'launch',
          LifecycleActionResult: 'CONTINUE',
          InstanceId: 'i-1',
        }),
      ),
      'AccessDenied',
      403,
    );
    expect(denied.message).toContain(
      'autoscaling:CompleteLifecycleAction on resource: arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:',
    );
    // Amazon ECS API reference, "Common Errors": AccessDeniedException, HTTP status code 400.
    const ecs = new ECSClient({ ...fn.clientConfig, maxAttempts: 1 });
    const ecsDenied = await awsError(
      ecs.send(new ListTasksCommand({ cluster: 'lease' })),
      'AccessDeniedException',
      400,
    );
    expect(ecsDenied.message).toContain('ecs:ListTasks');
    expect(await emu().iam.takeRefusals()).toHaveLength(2);
  });

  // Amazon ECS Developer Guide, "Task IAM role" / "Task execution IAM role": running a task
  // definition with roles needs iam:PassRole on them, with iam:PassedToService ecs-tasks.amazonaws.com.
  it('authorizes RunTask and the iam:PassRole of the task definition roles, with ecs:cluster', async () => {
    const { ecs: admin, ec2: adminEc2 } = clients(emu());
    const net = await network(adminEc2);
    const cluster = (await admin.send(new CreateClusterCommand({ clusterName: 'jobs' }))).cluster!
      .clusterArn!;
    const role = 'arn:aws:iam::123456789012:role/TaskRole';
    const td = await admin.send(
      new RegisterTaskDefinitionCommand({
        family: 'job',
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        taskRoleArn: role,
        containerDefinitions: [{ name: 'app', image: 'busybox', essential: true }],
      }),
    );
    const run = new RunTaskCommand({
      cluster,
      taskDefinition: td.taskDefinition!.taskDefinitionArn!,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: [net.subnetA] } },
    });
    const runOnly: PolicyDocument = {
      Statement: [
        {
          Effect: 'Allow',
          Action: 'ecs:RunTask',
          Resource: td.taskDefinition!.taskDefinitionArn!,
          Condition: { ArnEquals: { 'ecs:cluster': cluster } },
        },
      ],
    };
    const fn = await emu().iam.register({ policies: [runOnly] });
    const ecs = new ECSClient({ ...fn.clientConfig, maxAttempts: 1 });
    const denied = await awsError(ecs.send(run), 'AccessDeniedException', 400);
    expect(denied.message).toContain(`iam:PassRole on resource: ${role}`);
    const passToEcs = {
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: role,
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    };
    const withPass = await emu().iam.register({
      policies: [runOnly, { Statement: [passToEcs] }],
    });
    const started = await new ECSClient({ ...withPass.clientConfig, maxAttempts: 1 }).send(run);
    expect(started.tasks).toHaveLength(1);
    expect((await emu().iam.takeRefusals()).map((r) => r.action)).toEqual(['iam:PassRole']);
  });

  it('keeps registrations across reset() and clears refusals', async () => {
    const fn = await emu().iam.register({ policies: [eniPolicy] });
    const ec2 = new EC2Client({ ...fn.clientConfig, maxAttempts: 1 });
    await awsError(
      ec2.send(new CreateTagsCommand({ Resources: ['vpc-1'], Tags: [{ Key: 'a', Value: 'b' }] })),
      'UnauthorizedOperation',
    );
    expect(await emu().iam.refusals()).toHaveLength(1);
    await emu().reset();
    expect(await emu().iam.refusals()).toEqual([]);
    await ec2.send(new DescribeNetworkInterfacesCommand({}));
    await awsError(
      ec2.send(new CreateTagsCommand({ Resources: ['vpc-1'], Tags: [{ Key: 'a', Value: 'b' }] })),
      'UnauthorizedOperation',
    );
    await emu().iam.takeRefusals();
  });
});

/** Every AWS SDK command and paginator the packages' sources use, as service:Action. */
function packageActions(): string[] {
  const services: Record<string, string> = {
    'client-ec2': 'ec2',
    'client-auto-scaling': 'autoscaling',
    'client-ecs': 'ecs',
    'client-cloudformation': 'cloudformation',
  };
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const imp of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/(client-[a-z0-9-]+)'/g)) {
          const service = services[imp[2]!];
          if (service === undefined) throw new Error(`${path}: unknown client ${imp[2]}`);
          for (const name of imp[1]!.split(',').map((n) => n.replace(/^type\s+/, '').trim())) {
            const command = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
            if (command !== undefined) found.add(`${service}:${command}`);
          }
        }
      }
    }
  };
  for (const pkg of readdirSync(join(ROOT, 'packages'))) walk(join(ROOT, 'packages', pkg, 'src'));
  return [...found].sort();
}

describe('the resource table', () => {
  // Without an entry a call would be evaluated against nothing: the gate answers 500 instead.
  it('has an entry for every action the packages call', async () => {
    const table = await fetch(`${emu().url}/_netkit/iam/table`).then((r) => r.json() as Promise<string[]>);
    const actions = packageActions();
    expect(actions.length).toBeGreaterThan(30);
    expect(actions.filter((a) => !table.includes(a))).toEqual([]);
  });

  it('answers a call outside the table with 500 and records it, so a test that retries 500s still fails', async () => {
    const fn = await emu().iam.register({
      policies: [
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:CreateVpc', Resource: '*' }] },
      ],
    });
    const ec2 = new EC2Client({ ...fn.clientConfig, maxAttempts: 1 });
    await awsError(ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' })), 'InternalError', 500);
    expect(await emu().iam.takeRefusals()).toEqual([
      expect.objectContaining({ action: 'ec2:CreateVpc', decision: 'Unmodelled' }),
    ]);
  });
});

describe('template policies', () => {
  it('gives a function the template Policies, the destination queue policy SAM adds and its managed policies', async () => {
    const { roleArn, policies } = await emu().iam.templatePolicies({
      template: join(ROOT, 'infra', 'eni-attach', 'template.yaml'),
      logicalId: 'LaunchFunction',
      parameters: {
        AutoScalingGroupName: 'web',
        LaunchHookName: 'launch',
        SubnetIds: ['subnet-1', 'subnet-2'],
        SecurityGroupIds: ['sg-1'],
      },
      physicalIds: { DeadLetterQueue: 'eni-attach-dlq' },
    });
    expect(roleArn).toBe('arn:aws:iam::123456789012:role/LaunchFunctionRole');
    const statements = policies.flatMap((p) => p.Statement as Record<string, unknown>[]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: 'arn:aws:sqs:us-east-1:123456789012:eni-attach-dlq',
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      }),
    );
    expect(
      statements.find((s) => s['Sid'] === 'CreateInTheConfiguredSubnetsAndGroups')?.['Resource'],
    ).toEqual([
      'arn:*:ec2:*:*:subnet/subnet-1',
      'arn:*:ec2:*:*:subnet/subnet-2',
      'arn:*:ec2:*:*:security-group/sg-1',
    ]);
    expect(statements.find((s) => s['Sid'] === 'CompleteTheGroupsLifecycleActions')?.['Resource']).toBe(
      'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/web',
    );
  });
});
