// The checkers themselves: a template that follows the conventions passes, and each kind of
// violation (fixtures under test/fixtures) is reported - so the repo-wide checks can fail.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type JsonObject, parseTemplate, TemplateParseError } from '../src/cfn-yaml.ts';
import { checkAlarms, METRIC_DIMENSIONS, REQUIRED_METRIC_ALARMS } from '../src/checks/alarms.ts';
import { checkIam } from '../src/checks/iam.ts';
import { type CheckedTemplate, checkTemplates } from '../src/checks/index.ts';
import { retryBudgetSeconds } from '../src/checks/lifecycle.ts';
import { cfnLint, discoverTemplates, INFRA_DIR, REPO_ROOT, ToolMissingError } from '../src/tools.ts';

const fixture = (name: string): string => join(INFRA_DIR, 'test', 'fixtures', name);
const FIXTURES = [
  'good.yaml',
  'bad-service-wildcard.yaml',
  'bad-resource-star.yaml',
  'bad-no-dlq.yaml',
  'bad-function-settings.yaml',
  'bad-missing-alarms.yaml',
  'bad-retry-budget.yaml',
];

let results: Map<string, CheckedTemplate>;
beforeAll(() => {
  results = new Map(checkTemplates(FIXTURES.map(fixture)).map((r) => [r.file.split('/').pop() ?? r.file, r]));
});

const messages = (name: string): string[] =>
  (results.get(name)?.findings ?? []).map((f) => `${f.resource}: ${f.message}`);

describe('CloudFormation YAML parsing', () => {
  it('turns the short intrinsic tags into their long form', () => {
    const template = parseTemplate(
      [
        'Resources:',
        '  Thing:',
        '    Type: AWS::SQS::Queue',
        '    Properties:',
        '      A: !Ref Param',
        '      B: !GetAtt Other.Arn',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        '      C: !Sub [ "${X}-q", { X: !Ref AWS::StackName } ]',
        '      D: !If [ IsProd, !Ref AWS::NoValue, 5 ]',
        '      E: !Join [ "", [ a, !Select [ 0, !GetAZs "" ] ] ]',
      ].join('\n'),
    );
    expect(template.Resources['Thing']?.Properties).toEqual({
      A: { Ref: 'Param' },
      B: { 'Fn::GetAtt': ['Other', 'Arn'] },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
      C: { 'Fn::Sub': ['${X}-q', { X: { Ref: 'AWS::StackName' } }] },
      D: { 'Fn::If': ['IsProd', { Ref: 'AWS::NoValue' }, 5] },
      E: { 'Fn::Join': ['', ['a', { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }]] },
    });
  });

  it('rejects an unknown tag, naming the file and the line', () => {
    expect(() => parseTemplate('Resources:\n  A: !Bogus x\n', 'broken.yaml')).toThrow(TemplateParseError);
    expect(() => parseTemplate('Resources:\n  A: !Bogus x\n', 'broken.yaml')).toThrow(
      /broken\.yaml: .*!Bogus.*line 2/,
    );
  });

  it('rejects a template without Resources', () => {
    expect(() => parseTemplate('Parameters: {}\n', 'empty.yaml')).toThrow(
      /empty\.yaml: the template has no Resources/,
    );
  });
});

describe('IAM check', () => {
  it('passes a template whose policies are scoped to ARNs and tags', () => {
    expect(messages('good.yaml')).toEqual([]);
  });

  it('reports the service wildcard ec2:*, Action "*", a broad wildcard and a non allow-listed managed policy', () => {
    const found = messages('bad-service-wildcard.yaml');
    expect(found).toContain(
      "Function: Policies: managed policy 'AmazonEC2FullAccess' is not on the allow-list",
    );
    expect(found).toContain("Function: Policies[1] statement EverythingEc2: service wildcard 'ec2:*'");
    expect(found).toContainEqual(
      expect.stringContaining("statement AnyAddressAction: broad action wildcard 'ec2:*Address*'"),
    );
    expect(found).toContain(
      "Function: Policies[1] statement Everything: Action '*' grants every action of every service",
    );
    expect(found).toContainEqual(expect.stringContaining('matches every resource type of the service'));
  });

  it('reports Resource "*" on mutating actions that accept resource-level permissions, and not on Describe*', () => {
    const found = messages('bad-resource-star.yaml');
    expect(found).toEqual([
      "Role: policy associate statement AssociateAnything: Resource '*' with 'ec2:AssociateAddress', which accepts resource-level permissions: scope it to ARNs or tags",
      "ReleasePolicy: PolicyDocument statement ReleaseAnything: Resource '*' with 'ec2:ReleaseAddress', which accepts resource-level permissions: scope it to ARNs or tags",
    ]);
  });

  it("accepts Resource '*' for ecs:ListTasks only with the ecs:cluster condition (Fargate has no container instance)", () => {
    const statement = (condition: string) =>
      parseTemplate(
        [
          'Resources:',
          '  Fn:',
          '    Type: AWS::Serverless::Function',
          '    Properties:',
          '      Policies:',
          '        - Statement:',
          '            - Sid: List',
          '              Effect: Allow',
          '              Action: ecs:ListTasks',
          '              Resource: "*"',
          ...(condition === '' ? [] : ['              Condition:', `                ${condition}`]),
        ].join('\n'),
      );
    expect(
      checkIam(statement('ArnEquals: { ecs:cluster: arn:aws:ecs:us-east-1:1:cluster/x }'), 't.yaml'),
    ).toEqual([]);
    expect(checkIam(statement(''), 't.yaml').map((f) => f.message)).toEqual([
      "Policies[0] statement List: Resource '*' with 'ecs:ListTasks', which accepts resource-level permissions: scope it to ARNs or tags",
    ]);
    expect(checkIam(statement('StringEquals: { aws:RequestedRegion: us-east-1 }'), 't.yaml')).toHaveLength(1);
  });

  it('accepts only allow-listed SAM policy templates', () => {
    const template = parseTemplate(
      [
        'Resources:',
        '  Fn:',
        '    Type: AWS::Serverless::Function',
        '    Properties:',
        '      Policies:',
        '        - SQSSendMessagePolicy: { QueueName: q }',
        '        - EC2DescribePolicy: {}',
        '        - AmazonEC2ReadOnlyAccess',
      ].join('\n'),
    );
    expect(checkIam(template, 't.yaml').map((f) => f.message)).toEqual([
      "Policies: SAM policy template 'EC2DescribePolicy' is not on the allow-list",
      "Policies: managed policy 'AmazonEC2ReadOnlyAccess' is not on the allow-list",
    ]);
  });

  it('reports NotAction and NotResource in Allow statements, and ignores Deny statements', () => {
    const template = parseTemplate(
      [
        'Resources:',
        '  P:',
        '    Type: AWS::IAM::ManagedPolicy',
        '    Properties:',
        '      PolicyDocument:',
        '        Statement:',
        '          - { Sid: A, Effect: Allow, NotAction: iam:*, Resource: "*" }',
        '          - { Sid: B, Effect: Allow, Action: ec2:DescribeVpcs, NotResource: "arn:aws:ec2:*:*:vpc/vpc-1" }',
        '          - { Sid: C, Effect: Deny, Action: "*", Resource: "*" }',
      ].join('\n'),
    );
    expect(checkIam(template, 't.yaml').map((f) => f.message)).toEqual([
      'PolicyDocument statement A: NotAction in an Allow statement grants every other action',
      'PolicyDocument statement B: NotResource in an Allow statement',
    ]);
  });

  it('reports a condition key with a ${...} placeholder, which CloudFormation never substitutes', () => {
    const template = parseTemplate(
      [
        'Resources:',
        '  P:',
        '    Type: AWS::IAM::ManagedPolicy',
        '    Properties:',
        '      PolicyDocument:',
        '        Statement:',
        '          - Sid: A',
        '            Effect: Allow',
        '            Action: ec2:DeleteNatGateway',
        '            Resource: !Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:natgateway/*',
        '            Condition:',
        '              StringEquals:',
        '                aws:ResourceTag/${TagKey}: !Ref TagValue',
      ].join('\n'),
    );
    expect(checkIam(template, 't.yaml').map((f) => f.message)).toEqual([
      "PolicyDocument statement A: condition key 'aws:ResourceTag/${TagKey}' (StringEquals) is never substituted by CloudFormation",
    ]);
  });

  it('checks both branches of a Fn::If', () => {
    const template = parseTemplate(
      [
        'Resources:',
        '  P:',
        '    Type: AWS::IAM::Policy',
        '    Properties:',
        '      PolicyDocument:',
        '        Statement:',
        '          - Effect: Allow',
        '            Action: !If [ Wide, "ec2:*", ec2:DescribeVpcs ]',
        '            Resource: "*"',
      ].join('\n'),
    );
    expect(checkIam(template, 't.yaml').map((f) => f.message)).toEqual([
      "PolicyDocument statement 0: service wildcard 'ec2:*'",
    ]);
  });
});

describe('function check', () => {
  it('passes a function with arm64, nodejs22.x, tracing, bounded timeout, log retention and DLQs', () => {
    expect(messages('good.yaml')).toEqual([]);
  });

  it('reports an event-driven function with no on-failure destination and a rule target with no retry bound or DLQ', () => {
    expect(messages('bad-no-dlq.yaml')).toEqual([
      'Function: no EventInvokeConfig: async invocations need MaximumRetryAttempts and an OnFailure destination (DLQ)',
      'FunctionLaunch: target FunctionLaunchLambdaTarget has no RetryPolicy (EventBridge would retry for 24 h, 185 times)',
      'FunctionLaunch: target FunctionLaunchLambdaTarget has no DeadLetterConfig (DLQ)',
      'Function: invoked by a lifecycle hook rule, but its EventInvokeConfig has no MaximumEventAgeInSeconds (a number or a parameter with a Default): set it to the hook timeout, so events the hook has given up on are dropped',
    ]);
  });

  it('reports the wrong runtime and architecture, no tracing, no timeout and no log group', () => {
    expect(messages('bad-function-settings.yaml')).toEqual([
      'Function: Runtime is "nodejs20.x", expected nodejs22.x',
      'Function: Architectures is "x86_64 (default)", expected [arm64]',
      'Function: Tracing is not Active',
      'Function: no explicit Timeout (Lambda would default to 3 s)',
      'Function: no log group of its own: add an AWS::Logs::LogGroup and point LoggingConfig.LogGroup at it',
    ]);
  });
});

describe('lifecycle check', () => {
  it('reports a lifecycle function whose retries outlast the hook, and a rule name that can pass 64 characters', () => {
    expect(messages('bad-retry-budget.yaml')).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
      'FunctionLifecycle: Name {"Fn::Sub":"${AWS::StackName}-lifecycle"} can be 138 characters (EventBridge allows 64; a stack name alone can be 128): omit Name so CloudFormation generates one, and refer to the rule by !GetAtt <rule>.Arn',
      "Function: retry budget 540 s (Timeout 120 s [parameter FunctionTimeoutSeconds default 120] x 3 attempts + 180 s of Lambda retry delays) exceeds the lifecycle hook timeout 300 s (the function's MaximumEventAgeInSeconds): lower the timeout or MaximumRetryAttempts, or document a longer hook timeout",
    ]);
  });

  it('passes the conventional fixture (no lifecycle rule, no fixed names)', () => {
    expect(messages('good.yaml').filter((m) => /retry budget|Name/.test(m))).toEqual([]);
  });

  it('counts Lambda’s one- and two-minute waits between asynchronous attempts', () => {
    expect(retryBudgetSeconds(120, 0)).toBe(120);
    expect(retryBudgetSeconds(120, 1)).toBe(300);
    expect(retryBudgetSeconds(120, 2)).toBe(540);
  });
});

describe('cfn-lint runner', () => {
  it('reports errors and warnings with file, line and rule', () => {
    const matches = cfnLint([fixture('bad-lint.yaml'), fixture('good.yaml')]);
    expect(matches.map((m) => `${m.file}:${m.line} ${m.level} ${m.rule}`)).toEqual([
      'infra/test/fixtures/bad-lint.yaml:5 Warning W2001',
      'infra/test/fixtures/bad-lint.yaml:12 Error E3002',
    ]);
  });

  it('fails, naming the install command, when cfn-lint is missing', () => {
    const saved = process.env['CFN_LINT'];
    process.env['CFN_LINT'] = 'cfn-lint-not-installed-here';
    try {
      expect(() => cfnLint([fixture('good.yaml')])).toThrow(ToolMissingError);
      expect(() => cfnLint([fixture('good.yaml')])).toThrow(/pip install cfn-lint/);
    } finally {
      if (saved === undefined) delete process.env['CFN_LINT'];
      else process.env['CFN_LINT'] = saved;
    }
  });
});

describe('alarm check', () => {
  const alarmMessages = (name: string, pkg: string): string[] => {
    const translated = results.get(name)?.translated;
    expect(translated, `${name} was translated`).toBeDefined();
    return checkAlarms(translated!, name, pkg).map((f) => `${f.resource}: ${f.message}`);
  };

  it('names every missing alarm, the alarm that notifies nobody and the missing dashboard', () => {
    expect(alarmMessages('bad-missing-alarms.yaml', 'eip-associator')).toEqual([
      'Function: no alarm on its Errors metric (AWS/Lambda Errors, dimension FunctionName)',
      'Template: no alarm on the package metric Netkit/PoolFree',
      'Template: no alarm on the package metric Netkit/LaunchesAbandoned',
      'DeadLetterQueueAlarm: AlarmActions does not notify AlarmTopicArn',
      'Template: no AWS::CloudWatch::Dashboard',
    ]);
  });

  it('reports a template without alarms, AlarmTopicArn or dashboard', () => {
    expect(alarmMessages('good.yaml', 'nat-reaper')).toEqual([
      'DeadLetterQueue: no "queue not empty" alarm (AWS/SQS ApproximateNumberOfMessagesVisible, dimension QueueName)',
      'Function: no alarm on its Errors metric (AWS/Lambda Errors, dimension FunctionName)',
      'Template: no AlarmTopicArn parameter (the optional SNS topic the alarms notify)',
      'Template: no AWS::CloudWatch::Dashboard',
    ]);
  });

  it('is not applied to the example stacks, only to package templates', () => {
    const example = checkTemplates(discoverTemplates().examples.slice(0, 1));
    expect(example[0]?.findings.filter((f) => f.message.includes('alarm'))).toEqual([]);
  });

  // Each package template, with any one of its alarms or its dashboard removed, is reported: the
  // repo-wide check (templates.test.ts) cannot pass a template that lost one.
  describe('on the package templates', () => {
    const templates = [...discoverTemplates().packageTemplates.entries()];
    let checked: Map<string, CheckedTemplate>;
    beforeAll(() => {
      checked = new Map(
        checkTemplates(templates.map(([, file]) => file)).map((c, i) => [templates[i]![0], c]),
      );
    });

    it('knows the alarms of every package that has a template', () => {
      expect(
        templates.map(([pkg]) => pkg).filter((pkg) => REQUIRED_METRIC_ALARMS[pkg] === undefined),
      ).toEqual([]);
    });

    it('knows the dimensions of every package: AutoScalingGroupName exactly where the lifecycle-hook runner adds it', () => {
      for (const [pkg] of templates) {
        const src = resolve(REPO_ROOT, 'packages', pkg, 'src');
        const factories = readdirSync(src).filter((f) => /^create-.*handler\.ts$/.test(f));
        const runner = factories.some((f) =>
          readFileSync(resolve(src, f), 'utf8').includes("'@netkit/aws-core/lifecycle-hook'"),
        );
        expect(METRIC_DIMENSIONS[pkg], pkg).toEqual(
          runner ? ['service', 'AutoScalingGroupName'] : ['service'],
        );
      }
    });

    const alarmed = templates.map(([pkg]) => pkg).filter((pkg) => REQUIRED_METRIC_ALARMS[pkg]?.length);
    it.each(
      alarmed,
    )('%s: an alarm that selects other dimensions than the metrics carry is reported', (pkg) => {
      const plain = structuredClone(checked.get(pkg)?.translated);
      const [id, alarm] = Object.entries(plain!.Resources).find(
        ([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.['Namespace'] === 'Netkit',
      )!;
      (alarm.Properties as JsonObject)['Dimensions'] = [
        { Name: 'service', Value: pkg },
        { Name: 'FunctionName', Value: 'x' },
      ];
      expect(checkAlarms(plain!, pkg, pkg).map((f) => f.resource)).toEqual([id]);
    });

    it.each(templates.map(([pkg]) => pkg))('%s: removing any alarm or the dashboard is reported', (pkg) => {
      const plain = checked.get(pkg)?.translated;
      expect(plain).toBeDefined();
      expect(checkAlarms(plain!, pkg, pkg)).toEqual([]);
      const watched = Object.entries(plain!.Resources).filter(
        ([, r]) => r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::Dashboard',
      );
      expect(watched.length).toBeGreaterThanOrEqual(3);
      for (const [id] of watched) {
        const { [id]: _removed, ...rest } = plain!.Resources;
        const findings = checkAlarms({ ...plain!, Resources: rest }, pkg, pkg);
        expect(findings.length, `removing ${id} from ${pkg} is reported`).toBeGreaterThan(0);
      }
    });
  });
});
