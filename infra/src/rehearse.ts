// Deployment rehearsal: create a translated (plain CloudFormation) template as a stack in the
// local AWS emulator (moto) and read back what CloudFormation really created: functions, rules
// and their targets, Lambda permissions, roles and their policies, log groups.
//
// moto's CloudFormation has gaps (see MOTO_GAPS): resource types it cannot create, and Lambda
// properties it ignores. Those are reported as such so the caller asserts them from the
// translated template instead - never as if the emulator had created them.
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  type Target,
} from '@aws-sdk/client-eventbridge';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  GetPolicyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { isObject, type Json, type JsonObject, type Template } from './cfn-yaml.ts';

/** Resource types moto 5.2.1's CloudFormation does not create (it logs "No Moto CloudFormation support"). */
export const MOTO_GAPS: Readonly<Record<string, string>> = {
  'AWS::Lambda::EventInvokeConfig': 'moto CloudFormation does not create EventInvokeConfig',
  'AWS::SQS::QueuePolicy': 'moto CloudFormation does not create SQS queue policies',
  'AWS::Scheduler::Schedule': 'moto CloudFormation does not create EventBridge Scheduler schedules',
  'AWS::CloudWatch::Alarm': 'moto CloudFormation does not create CloudWatch alarms',
  'AWS::Lambda::Version': 'moto CloudFormation does not create Lambda versions',
  'AWS::Lambda::Alias': 'moto CloudFormation does not create Lambda aliases',
};

/** Lambda function properties moto accepts but does not store (asserted from the template). */
export const MOTO_IGNORED_FUNCTION_PROPERTIES = ['Architectures', 'TracingConfig', 'LoggingConfig'] as const;

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface RehearsedFunction {
  logicalId: string;
  configuration: FunctionConfiguration;
  /** Resource policy statements (lambda:InvokeFunction grants). */
  permissions: JsonObject[];
}

export interface RehearsedRule {
  logicalId: string;
  name: string;
  eventPattern: Json | undefined;
  scheduleExpression: string | undefined;
  state: string | undefined;
  targets: Target[];
}

export interface RehearsedRole {
  logicalId: string;
  name: string;
  assumeRolePolicy: Json;
  inlinePolicies: Record<string, Json>;
  managedPolicyArns: string[];
}

export interface Rehearsal {
  stackName: string;
  region: string;
  status: string;
  parameters: Record<string, string>;
  resources: StackResourceSummary[];
  /** Logical ids of the template that the emulator did not create, with the known moto gap. */
  notCreated: Array<{ logicalId: string; type: string; gap: string | undefined }>;
  functions: RehearsedFunction[];
  rules: RehearsedRule[];
  roles: RehearsedRole[];
  logGroups: Array<{ logicalId: string; name: string; retentionInDays: number | undefined }>;
  /** The template as sent (code replaced with an inline placeholder). */
  deployed: Template;
}

/**
 * IAM returns policy documents URL-encoded JSON. moto 5.2.1 stores the inline policies of roles
 * created by CloudFormation as a Python repr ({'Statement': [...]}) instead: accept that form too
 * (quotes, True/False/None), and fail on anything else.
 */
export function parsePolicyDocument(raw: string): Json {
  const text = raw.startsWith('%') || raw.includes('%7B') ? decodeURIComponent(raw) : raw;
  try {
    return JSON.parse(text) as Json;
  } catch {
    const json = text
      .replace(/'/g, '"')
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null');
    return JSON.parse(json) as Json;
  }
}

export const PLACEHOLDER_CODE = 'exports.handler = async () => ({ rehearsal: true });';

/** Replaces every function's S3 code location with an inline placeholder: moto never runs it. */
export function withInlineCode(template: Template): Template {
  const copy = structuredClone(template);
  for (const resource of Object.values(copy.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function' && resource.Properties !== undefined) {
      resource.Properties['Code'] = { ZipFile: PLACEHOLDER_CODE };
    }
  }
  return copy;
}

export class RehearsalParameterError extends Error {
  override readonly name = 'RehearsalParameterError';
}

export interface Network {
  vpcId: string;
  subnetIds: string[];
  securityGroupId: string;
  /** A route table of the VPC, for `*RouteTableIds` list parameters (e.g. a gateway endpoint's). */
  routeTableIds?: string[];
}

/**
 * A value for every parameter without a Default: from `overrides`, from the emulator's network
 * for AWS::EC2 id types, else a value derived from the parameter's constraints. A parameter
 * that cannot be satisfied throws, naming it and where to put an override.
 */
export function rehearsalParameters(
  template: Template,
  network: Network,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(template.Parameters ?? {})) {
    const type = typeof spec['Type'] === 'string' ? spec['Type'] : 'String';
    const override = overrides[name];
    if (override !== undefined) {
      values[name] = override;
      continue;
    }
    if (spec['Default'] !== undefined) continue;
    const allowed = Array.isArray(spec['AllowedValues']) ? spec['AllowedValues'] : [];
    let value: string;
    if (allowed.length > 0) value = String(allowed[0]);
    else if (type === 'AWS::EC2::VPC::Id') value = network.vpcId;
    else if (type === 'AWS::EC2::Subnet::Id') value = network.subnetIds[0] as string;
    else if (type === 'List<AWS::EC2::Subnet::Id>') value = network.subnetIds.join(',');
    else if (type === 'AWS::EC2::SecurityGroup::Id' || type === 'List<AWS::EC2::SecurityGroup::Id>') {
      value = network.securityGroupId;
    } else if (type === 'CommaDelimitedList' && /RouteTableIds$/.test(name) && network.routeTableIds) {
      value = network.routeTableIds.join(',');
    } else if (type === 'Number') value = String(spec['MinValue'] ?? 1);
    else if (type === 'CommaDelimitedList' || type === 'List<String>') value = 'rehearsal-a,rehearsal-b';
    else if (type === 'String') value = `rehearsal-${name.replace(/[^A-Za-z0-9]/g, '').toLowerCase()}`;
    else throw new RehearsalParameterError(`parameter ${name}: type ${type} needs an override`);
    const pattern =
      typeof spec['AllowedPattern'] === 'string' ? new RegExp(`^(?:${spec['AllowedPattern']})$`) : undefined;
    if (pattern !== undefined && !pattern.test(value)) {
      throw new RehearsalParameterError(
        `parameter ${name}: no value matching AllowedPattern ${spec['AllowedPattern']}; add one to infra/test/rehearsal-parameters.json`,
      );
    }
    values[name] = value;
  }
  return values;
}

const NETWORK_TEMPLATE: Template = {
  AWSTemplateFormatVersion: '2010-09-09',
  Resources: {
    Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.42.0.0/16' } },
    SubnetA: {
      Type: 'AWS::EC2::Subnet',
      Properties: {
        VpcId: { Ref: 'Vpc' },
        CidrBlock: '10.42.1.0/24',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        AvailabilityZone: { 'Fn::Sub': '${AWS::Region}a' },
      },
    },
    SubnetB: {
      Type: 'AWS::EC2::Subnet',
      Properties: {
        VpcId: { Ref: 'Vpc' },
        CidrBlock: '10.42.2.0/24',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        AvailabilityZone: { 'Fn::Sub': '${AWS::Region}b' },
      },
    },
    RouteTable: { Type: 'AWS::EC2::RouteTable', Properties: { VpcId: { Ref: 'Vpc' } } },
    SecurityGroup: {
      Type: 'AWS::EC2::SecurityGroup',
      Properties: { GroupDescription: 'rehearsal', VpcId: { Ref: 'Vpc' } },
    },
  },
};

export class Rehearser {
  readonly cfn: CloudFormationClient;
  readonly lambda: LambdaClient;
  readonly events: EventBridgeClient;
  readonly iam: IAMClient;

  constructor(readonly config: ClientConfig) {
    const base = { ...config, maxAttempts: 2 };
    this.cfn = new CloudFormationClient(base);
    this.lambda = new LambdaClient(base);
    this.events = new EventBridgeClient(base);
    this.iam = new IAMClient(base);
  }

  /** A VPC with two subnets and a security group, for AWS::EC2::*::Id parameters. */
  async network(): Promise<Network> {
    const stack = await this.createStack('rehearsal-network', NETWORK_TEMPLATE, {});
    const ids = new Map(stack.map((r) => [r.LogicalResourceId, r.PhysicalResourceId ?? '']));
    return {
      vpcId: ids.get('Vpc') ?? '',
      subnetIds: [ids.get('SubnetA') ?? '', ids.get('SubnetB') ?? ''],
      securityGroupId: ids.get('SecurityGroup') ?? '',
      routeTableIds: [ids.get('RouteTable') ?? ''],
    };
  }

  private async createStack(
    stackName: string,
    template: Template,
    parameters: Record<string, string>,
  ): Promise<StackResourceSummary[]> {
    await this.cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify(template),
        Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
          ParameterKey,
          ParameterValue,
        })),
        Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
      }),
    );
    // moto creates stacks synchronously; poll a bounded number of times in case that changes.
    let status = '';
    let reason = '';
    for (let attempt = 0; attempt < 50; attempt++) {
      const { Stacks } = await this.cfn.send(new DescribeStacksCommand({ StackName: stackName }));
      status = Stacks?.[0]?.StackStatus ?? '';
      reason = Stacks?.[0]?.StackStatusReason ?? '';
      if (!status.endsWith('_IN_PROGRESS')) break;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
    if (status !== 'CREATE_COMPLETE') {
      throw new Error(`stack ${stackName} ended in ${status || 'no status'}${reason ? `: ${reason}` : ''}`);
    }
    const resources: StackResourceSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.cfn.send(
        new ListStackResourcesCommand({ StackName: stackName, NextToken: token }),
      );
      resources.push(...(page.StackResourceSummaries ?? []));
      token = page.NextToken;
    } while (token !== undefined);
    return resources;
  }

  async rehearse(
    stackName: string,
    translated: Template,
    parameters: Record<string, string>,
  ): Promise<Rehearsal> {
    const deployed = withInlineCode(translated);
    const resources = await this.createStack(stackName, deployed, parameters);
    const byId = new Map(resources.map((r) => [r.LogicalResourceId ?? '', r]));
    const notCreated = Object.entries(deployed.Resources)
      .filter(([id]) => byId.get(id)?.ResourceStatus !== 'CREATE_COMPLETE')
      .map(([logicalId, r]) => ({ logicalId, type: r.Type, gap: MOTO_GAPS[r.Type] }));

    const physical = (type: string): Array<[string, string]> =>
      resources
        .filter((r) => r.ResourceType === type && r.PhysicalResourceId)
        .map((r) => [r.LogicalResourceId ?? '', r.PhysicalResourceId ?? '']);
    const functions = await this.readFunctions(physical('AWS::Lambda::Function'));
    const rules = await this.readRules(physical('AWS::Events::Rule'));
    const roles = await this.readRoles(physical('AWS::IAM::Role'));
    const logGroups: Rehearsal['logGroups'] = [];
    for (const [logicalId, name] of physical('AWS::Logs::LogGroup')) {
      const found = await this.describeLogGroup(name);
      logGroups.push({ logicalId, name, retentionInDays: found?.retentionInDays });
    }

    return {
      stackName,
      region: this.config.region,
      status: 'CREATE_COMPLETE',
      parameters,
      resources,
      notCreated,
      functions,
      rules,
      roles,
      logGroups,
      deployed,
    };
  }

  /** Each function's configuration and resource policy statements (none when it has no policy). */
  private async readFunctions(ids: Array<[string, string]>): Promise<RehearsedFunction[]> {
    const functions: RehearsedFunction[] = [];
    for (const [logicalId, name] of ids) {
      const configuration = await this.lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: name }),
      );
      let permissions: JsonObject[] = [];
      try {
        const policy = await this.lambda.send(new GetPolicyCommand({ FunctionName: name }));
        const doc = JSON.parse(policy.Policy ?? '{}') as { Statement?: JsonObject[] };
        permissions = doc.Statement ?? [];
      } catch (error) {
        if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
      }
      functions.push({ logicalId, configuration, permissions });
    }
    return functions;
  }

  /** Each EventBridge rule with its pattern or schedule, state and targets. */
  private async readRules(ids: Array<[string, string]>): Promise<RehearsedRule[]> {
    const rules: RehearsedRule[] = [];
    for (const [logicalId, name] of ids) {
      const ruleName = name.includes('/') ? (name.split('/').pop() as string) : name;
      const rule = await this.events.send(new DescribeRuleCommand({ Name: ruleName }));
      const targets = await this.events.send(new ListTargetsByRuleCommand({ Rule: ruleName }));
      rules.push({
        logicalId,
        name: ruleName,
        eventPattern: rule.EventPattern ? (JSON.parse(rule.EventPattern) as Json) : undefined,
        scheduleExpression: rule.ScheduleExpression,
        state: rule.State,
        targets: targets.Targets ?? [],
      });
    }
    return rules;
  }

  /** Each role's trust policy, inline policies and attached managed policies. */
  private async readRoles(ids: Array<[string, string]>): Promise<RehearsedRole[]> {
    const roles: RehearsedRole[] = [];
    for (const [logicalId, name] of ids) {
      const role = await this.iam.send(new GetRoleCommand({ RoleName: name }));
      const names = await this.iam.send(new ListRolePoliciesCommand({ RoleName: name }));
      const inlinePolicies: Record<string, Json> = {};
      for (const policyName of names.PolicyNames ?? []) {
        const p = await this.iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
        inlinePolicies[policyName] = parsePolicyDocument(p.PolicyDocument ?? '{}');
      }
      const attached = await this.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }));
      roles.push({
        logicalId,
        name,
        assumeRolePolicy: parsePolicyDocument(role.Role?.AssumeRolePolicyDocument ?? '{}'),
        inlinePolicies,
        managedPolicyArns: (attached.AttachedPolicies ?? []).map((a) => a.PolicyArn ?? ''),
      });
    }
    return roles;
  }

  /**
   * CloudWatch Logs through its JSON protocol (infra has no Logs SDK client). moto does not
   * verify signatures; the credential scope routes the request to the Logs backend.
   */
  private async describeLogGroup(
    name: string,
  ): Promise<{ logGroupName: string; retentionInDays?: number } | undefined> {
    const response = await fetch(this.config.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Logs_20140328.DescribeLogGroups',
        authorization: `AWS4-HMAC-SHA256 Credential=${this.config.credentials.accessKeyId}/20260101/${this.config.region}/logs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify({ logGroupNamePrefix: name }),
    });
    if (!response.ok)
      throw new Error(`DescribeLogGroups ${name}: HTTP ${response.status} ${await response.text()}`);
    const body = (await response.json()) as {
      logGroups?: Array<{ logGroupName: string; retentionInDays?: number }>;
    };
    return body.logGroups?.find((g) => g.logGroupName === name);
  }

  async deleteStack(stackName: string): Promise<void> {
    await this.cfn.send(new DeleteStackCommand({ StackName: stackName }));
  }

  destroy(): void {
    this.cfn.destroy();
    this.lambda.destroy();
    this.events.destroy();
    this.iam.destroy();
  }
}

/** The value a template expression takes in the rehearsed stack, or undefined when it cannot be known. */
/** What `resolve(..., { keepNoValue: true })` returns for a value that is `AWS::NoValue` (the property is absent). */
export const NO_VALUE = '\u0000AWS::NoValue';

export function resolve(
  value: Json | undefined,
  rehearsal: Rehearsal,
  template: Template,
  options: { keepNoValue?: boolean } = {},
): Json | undefined {
  const result = new Resolver(rehearsal, template).walk(value);
  return result === NO_VALUE && !options.keepNoValue ? undefined : result;
}

/** What `walkFunction` returns for an object that is no intrinsic function it knows. */
const NOT_A_FUNCTION = Symbol('not-a-function');

/** Template expressions evaluated against one rehearsed stack: parameters, physical ids, ARNs, conditions. */
class Resolver {
  private readonly params: Record<string, string> = {};
  private readonly physical: Map<string, string>;
  private readonly pseudo: Record<string, string>;

  constructor(
    private readonly rehearsal: Rehearsal,
    private readonly template: Template,
  ) {
    for (const [name, spec] of Object.entries(template.Parameters ?? {})) {
      const v = rehearsal.parameters[name] ?? spec['Default'];
      if (v !== undefined && v !== null) this.params[name] = String(v);
    }
    this.physical = new Map(
      rehearsal.resources.map((r) => [r.LogicalResourceId ?? '', r.PhysicalResourceId ?? '']),
    );
    this.pseudo = {
      'AWS::Region': rehearsal.region,
      'AWS::AccountId': '123456789012',
      'AWS::Partition': 'aws',
      'AWS::StackName': rehearsal.stackName,
      'AWS::URLSuffix': 'amazonaws.com',
    };
  }

  arnOf(id: string): string | undefined {
    const rehearsal = this.rehearsal;
    const fn = rehearsal.functions.find((f) => f.logicalId === id);
    if (fn) return fn.configuration.FunctionArn;
    const type = this.template.Resources[id]?.Type;
    const p = this.physical.get(id);
    if (p === undefined) return undefined;
    if (p.startsWith('arn:')) return p;
    if (type === 'AWS::SQS::Queue')
      return `arn:aws:sqs:${rehearsal.region}:123456789012:${p.split('/').pop()}`;
    if (type === 'AWS::Events::Rule') return `arn:aws:events:${rehearsal.region}:123456789012:rule/${p}`;
    if (type === 'AWS::IAM::Role') return `arn:aws:iam::123456789012:role/${p}`;
    if (type === 'AWS::ECS::Cluster') return `arn:aws:ecs:${rehearsal.region}:123456789012:cluster/${p}`;
    // As moto computes it. Real CloudFormation's LogGroup.Arn ends with ':*' (so `${Group.Arn}:*`
    // becomes '...:*:*' in AWS): moto leaves the suffix out.
    if (type === 'AWS::Logs::LogGroup') return `arn:aws:logs:${rehearsal.region}:123456789012:log-group:${p}`;
    return undefined;
  }

  ref(name: string): string | undefined {
    return this.pseudo[name] ?? this.params[name] ?? this.physical.get(name);
  }

  condition(name: string): boolean | undefined {
    const expr = this.template.Conditions?.[name];
    return expr === undefined ? undefined : this.truth(expr);
  }

  truth(expr: Json | undefined): boolean | undefined {
    if (!isObject(expr)) return typeof expr === 'boolean' ? expr : undefined;
    if (typeof expr['Condition'] === 'string') return this.condition(expr['Condition']);
    const eq = expr['Fn::Equals'];
    if (Array.isArray(eq)) {
      const [a, b] = [this.walk(eq[0]), this.walk(eq[1])];
      // CloudFormation compares scalars as strings: a Number parameter "0" equals 0.
      const norm = (x: Json) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x));
      return a === undefined || b === undefined ? undefined : norm(a) === norm(b);
    }
    const not = expr['Fn::Not'];
    if (Array.isArray(not)) {
      const t = this.truth(not[0]);
      return t === undefined ? undefined : !t;
    }
    for (const [fn, all] of [
      ['Fn::And', true],
      ['Fn::Or', false],
    ] as const) {
      const args = expr[fn];
      if (Array.isArray(args)) {
        const ts = args.map((a) => this.truth(a));
        if (ts.some((t) => t === undefined)) return undefined;
        return all ? ts.every(Boolean) : ts.some(Boolean);
      }
    }
    return undefined;
  }

  walk(v: Json | undefined): Json | undefined {
    if (v === undefined || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      const out = v.map((x) => this.walk(x)).filter((x) => x !== NO_VALUE);
      return out.some((x) => x === undefined) ? undefined : (out as Json[]);
    }
    if (v['Ref'] === 'AWS::NoValue') return NO_VALUE;
    if (typeof v['Ref'] === 'string') return this.walkRef(v['Ref']);
    const fn = this.walkFunction(v);
    if (fn !== NOT_A_FUNCTION) return fn;
    if (Object.keys(v).some((k) => k.startsWith('Fn::'))) return undefined;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.walk(x);
      if (r === undefined) return undefined;
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  /** A list parameter is a list wherever it is used whole (Fn::Join, a Resource list), as in CloudFormation. */
  private walkRef(name: string): Json | undefined {
    const type = this.template.Parameters?.[name]?.['Type'];
    const r = this.ref(name);
    const isList = typeof type === 'string' && (type.startsWith('List<') || type === 'CommaDelimitedList');
    return isList && r !== undefined ? r.split(',').map((x) => x.trim()) : r;
  }

  /** Fn::Split, Fn::If, Fn::GetAtt (Arn), Fn::Sub, Fn::Join; NOT_A_FUNCTION for anything else. */
  private walkFunction(v: JsonObject): Json | undefined | typeof NOT_A_FUNCTION {
    const split = v['Fn::Split'];
    if (Array.isArray(split) && typeof split[0] === 'string') {
      const whole = this.walk(split[1]);
      return typeof whole === 'string' ? whole.split(split[0]) : undefined;
    }
    const ifArgs = v['Fn::If'];
    if (Array.isArray(ifArgs) && typeof ifArgs[0] === 'string') {
      const t = this.condition(ifArgs[0]);
      return t === undefined ? undefined : this.walk(t ? ifArgs[1] : ifArgs[2]);
    }
    const att = v['Fn::GetAtt'];
    if (Array.isArray(att) && typeof att[0] === 'string')
      return att[1] === 'Arn' ? this.arnOf(att[0]) : undefined;
    const sub = v['Fn::Sub'];
    if (typeof sub === 'string') return this.walkSub(sub);
    const join = v['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string') {
      const parts = this.walk(join[1]);
      return Array.isArray(parts) ? parts.map(String).join(join[0]) : undefined;
    }
    return NOT_A_FUNCTION;
  }

  private walkSub(sub: string): string | undefined {
    let missing = false;
    const out = sub.replace(/\$\{([^}!]+)\}/g, (_m, key: string) => {
      const [id, attr] = key.split('.');
      const r =
        attr === 'Arn' ? this.arnOf(id as string) : attr === undefined ? this.ref(id as string) : undefined;
      if (r === undefined) missing = true;
      return r ?? '';
    });
    return missing ? undefined : out;
  }
}
