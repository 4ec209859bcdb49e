// Deployment rehearsal: every package template (and a fixture that follows the conventions) is
// translated with the SAM translator and created as a stack in the local AWS emulator; what
// CloudFormation created is read back and compared with the template. Where moto cannot create a
// resource type or ignores a property, the test name says so and asserts it from the translation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Emulator, startEmulator } from '@netkit/local-aws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asList,
  isObject,
  type Json,
  type JsonObject,
  referencedId,
  type Template,
} from '../src/cfn-yaml.ts';
import {
  MOTO_GAPS,
  type Network,
  NO_VALUE,
  type Rehearsal,
  Rehearser,
  rehearsalParameters,
  resolve,
} from '../src/rehearse.ts';
import { discoverTemplates, INFRA_DIR, samTranslate } from '../src/tools.ts';

const FIXTURE = join(INFRA_DIR, 'test', 'fixtures', 'good.yaml');
const targets: Array<[string, string]> = [
  ['fixture good.yaml', FIXTURE],
  ...[...discoverTemplates().packageTemplates].map(([pkg, file]): [string, string] => [pkg, file]),
];
const overrides = JSON.parse(
  readFileSync(join(INFRA_DIR, 'test', 'rehearsal-parameters.json'), 'utf8'),
) as Record<string, Record<string, string>>;

let emulator: Emulator | undefined;
let rehearser: Rehearser;
let network: Network;
let translated: Map<string, Template>;

beforeAll(async () => {
  translated = samTranslate(targets.map(([, file]) => file));
  emulator = await startEmulator();
  rehearser = new Rehearser(emulator.clientConfig);
  network = await rehearser.network();
});

afterAll(async () => {
  rehearser?.destroy();
  await emulator?.stop();
});

function resourcesOf(template: Template, type: string): Array<[string, JsonObject]> {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

describe.each(targets)('rehearsal of %s', (name, file) => {
  let template: Template;
  let rehearsal: Rehearsal;
  const value = (v: Json | undefined): Json | undefined => resolve(v, rehearsal, template);

  beforeAll(async () => {
    template = translated.get(file) as Template;
    const parameters = rehearsalParameters(template, network, overrides[name] ?? {});
    rehearsal = await rehearser.rehearse(
      `rehearsal-${name.replace(/[^A-Za-z0-9-]/g, '-')}`,
      template,
      parameters,
    );
  });

  it('creates the stack and every resource, except the types moto cannot create (asserted from the template below)', () => {
    expect(rehearsal.status).toBe('CREATE_COMPLETE');
    const unexplained = rehearsal.notCreated.filter((r) => r.gap === undefined);
    expect(unexplained, 'resources the emulator did not create for no known reason').toEqual([]);
    expect(
      resourcesOf(template, 'AWS::Lambda::Function').length,
      'a package stack deploys at least one function',
    ).toBeGreaterThan(0);
  });

  it('creates each function with the handler, runtime, timeout, role and environment of the template', () => {
    const fns = resourcesOf(template, 'AWS::Lambda::Function');
    expect(rehearsal.functions.map((f) => f.logicalId).sort()).toEqual(fns.map(([id]) => id).sort());
    for (const [id, props] of fns) {
      const config = rehearsal.functions.find((f) => f.logicalId === id)?.configuration;
      expect(config?.Handler, `${id} handler`).toBe(props['Handler']);
      expect(config?.Runtime, `${id} runtime`).toBe(props['Runtime']);
      expect(config?.Timeout, `${id} timeout`).toBe(Number(value(props['Timeout'])));
      if (props['MemorySize'] !== undefined)
        expect(config?.MemorySize, `${id} memory`).toBe(Number(value(props['MemorySize'])));
      expect(config?.Role, `${id} role`).toBe(value(props['Role']));
      const env = isObject(props['Environment']) ? props['Environment']['Variables'] : undefined;
      // A variable whose value is AWS::NoValue (e.g. `!If [Cond, x, !Ref AWS::NoValue]`) is absent.
      const expected = Object.fromEntries(
        Object.entries(isObject(env) ? env : {}).filter(
          ([, raw]) => resolve(raw, rehearsal, template, { keepNoValue: true }) !== NO_VALUE,
        ),
      );
      const actual = config?.Environment?.Variables ?? {};
      expect(Object.keys(actual).sort(), `${id} environment variables`).toEqual(Object.keys(expected).sort());
      for (const [key, raw] of Object.entries(expected)) {
        const want = value(raw);
        // A value only CloudFormation can compute (e.g. an attribute moto does not model) is
        // compared for presence above; every resolvable value must match exactly.
        // moto echoes a number as a number where Lambda stores strings: compare as strings.
        if (want !== undefined) expect(String(actual[key]), `${id} ${key}`).toBe(String(want));
      }
    }
  });

  it('sets arm64, active tracing and its own log group on each function (from the translated template: moto ignores Architectures, TracingConfig and LoggingConfig)', () => {
    for (const [id, props] of resourcesOf(template, 'AWS::Lambda::Function')) {
      expect(props['Architectures'], id).toEqual(['arm64']);
      expect(props['TracingConfig'], id).toEqual({ Mode: 'Active' });
      const logGroupId = isObject(props['LoggingConfig'])
        ? referencedId(props['LoggingConfig']['LogGroup'])
        : undefined;
      if (logGroupId !== undefined) {
        expect(
          rehearsal.logGroups.map((g) => g.logicalId),
          `${id} log group created`,
        ).toContain(logGroupId);
      }
    }
  });

  it('creates each log group with the retention of the template', () => {
    for (const [id, props] of resourcesOf(template, 'AWS::Logs::LogGroup')) {
      const group = rehearsal.logGroups.find((g) => g.logicalId === id);
      expect(group?.retentionInDays, id).toBe(Number(value(props['RetentionInDays'])));
    }
  });

  it('creates each EventBridge rule with its pattern, and targets with their retry policy and dead-letter queue', () => {
    const rules = resourcesOf(template, 'AWS::Events::Rule');
    expect(rehearsal.rules.map((r) => r.logicalId).sort()).toEqual(rules.map(([id]) => id).sort());
    for (const [id, props] of rules) {
      const rule = rehearsal.rules.find((r) => r.logicalId === id);
      if (props['EventPattern'] !== undefined)
        expect(rule?.eventPattern, `${id} pattern`).toEqual(value(props['EventPattern']));
      if (props['ScheduleExpression'] !== undefined) {
        expect(rule?.scheduleExpression, `${id} schedule`).toBe(value(props['ScheduleExpression']));
      }
      const targets = asList(props['Targets']).filter(isObject);
      expect(rule?.targets.length, `${id} targets`).toBe(targets.length);
      for (const target of targets) {
        const actual = rule?.targets.find((t) => t.Id === target['Id']);
        expect(actual?.Arn, `${id} target ${target['Id']}`).toBe(value(target['Arn']));
        // A Ref to a Number parameter resolves to its string form; CloudFormation converts it.
        const retry = value(target['RetryPolicy']);
        const expectedRetry = isObject(retry)
          ? Object.fromEntries(Object.entries(retry).map(([k, n]) => [k, Number(n)]))
          : retry;
        expect(actual?.RetryPolicy, `${id} retry policy`).toEqual(expectedRetry);
        const dlq = isObject(target['DeadLetterConfig']) ? target['DeadLetterConfig']['Arn'] : undefined;
        expect(actual?.DeadLetterConfig?.Arn, `${id} DLQ`).toBe(value(dlq));
        expect(actual?.DeadLetterConfig?.Arn, `${id} DLQ`).toMatch(/^arn:aws:sqs:/);
      }
    }
  });

  it('grants each invoke permission of the template on the function it names', () => {
    for (const [id, props] of resourcesOf(template, 'AWS::Lambda::Permission')) {
      const fn = rehearsal.functions.find((f) => f.logicalId === referencedId(props['FunctionName']));
      expect(fn, `${id}: function`).toBeDefined();
      const sourceArn = props['SourceArn'] !== undefined ? String(value(props['SourceArn'])) : undefined;
      const statement = fn?.permissions.find((s) => {
        const principal = isObject(s['Principal']) ? s['Principal']['Service'] : s['Principal'];
        const source = JSON.stringify(s['Condition'] ?? null);
        return (
          principal === props['Principal'] && (sourceArn === undefined || source.includes(`"${sourceArn}"`))
        );
      });
      expect(
        statement,
        `${id}: statement for ${props['Principal']} from ${sourceArn ?? 'any source'}`,
      ).toBeDefined();
      expect(statement?.['Action']).toBe(props['Action']);
    }
  });

  it('creates each role with its trust policy and inline policies', () => {
    for (const [id, props] of resourcesOf(template, 'AWS::IAM::Role')) {
      const role = rehearsal.roles.find((r) => r.logicalId === id);
      expect(role, id).toBeDefined();
      expect(role?.assumeRolePolicy, `${id} trust policy`).toEqual(value(props['AssumeRolePolicyDocument']));
      for (const policy of asList(props['Policies']).filter(isObject)) {
        const name = String(policy['PolicyName']);
        expect(role?.inlinePolicies[name], `${id} policy ${name}`).toEqual(value(policy['PolicyDocument']));
      }
    }
  });

  it('attaches only allow-listed AWS managed policies (from the translated template: moto does not attach AWS managed policies)', () => {
    for (const [id, props] of resourcesOf(template, 'AWS::IAM::Role')) {
      for (const arn of asList(props['ManagedPolicyArns'])) {
        expect(String(value(arn)), id).toMatch(
          /^arn:aws:iam::aws:policy\/(service-role\/)?(AWSLambdaBasicExecutionRole|AWSXrayWriteOnlyAccess|AWSXRayDaemonWriteAccess|AWSLambdaVPCAccessExecutionRole)$/,
        );
      }
    }
  });

  it(`bounds async retries and sends failures to a queue of the stack (from the translated template: ${MOTO_GAPS['AWS::Lambda::EventInvokeConfig']})`, () => {
    const fns = resourcesOf(template, 'AWS::Lambda::Function').map(([id]) => id);
    for (const fn of fns) {
      const configs = resourcesOf(template, 'AWS::Lambda::EventInvokeConfig').filter(
        ([, p]) => referencedId(p['FunctionName']) === fn,
      );
      expect(configs.length, `${fn} EventInvokeConfig`).toBe(1);
      const [, config] = configs[0] as [string, JsonObject];
      expect(config['MaximumRetryAttempts'], fn).toBeTypeOf('number');
      const onFailure = isObject(config['DestinationConfig'])
        ? config['DestinationConfig']['OnFailure']
        : undefined;
      const destination = isObject(onFailure) ? referencedId(onFailure['Destination']) : undefined;
      expect(template.Resources[destination ?? '']?.Type, `${fn} OnFailure destination`).toBe(
        'AWS::SQS::Queue',
      );
      expect(
        rehearsal.resources.some(
          (r) => r.LogicalResourceId === destination && r.ResourceStatus === 'CREATE_COMPLETE',
        ),
        `${fn} destination queue created`,
      ).toBe(true);
    }
  });
});
