// Function conventions, checked on plain CloudFormation (SAM templates after translation, so
// Globals and SAM events are already expanded): every Lambda function is nodejs22.x on arm64,
// traced, has an explicit bounded timeout, logs to a log group with retention and has an
// on-failure destination; every EventBridge rule / schedule target retries boundedly into a DLQ.
import { asList, isObject, type Json, type JsonObject, referencedId, type Template } from '../cfn-yaml.ts';
import type { Finding } from './findings.ts';

export const RUNTIME = 'nodejs22.x';
export const ARCHITECTURE = 'arm64';
export const MAX_TIMEOUT_SECONDS = 900;

function mentions(value: Json | undefined, logicalId: string): boolean {
  const text = JSON.stringify(value ?? null);
  return text.includes(`"Ref":"${logicalId}"`) || text.includes(`\${${logicalId}}`);
}

function numberOrParameterMax(value: Json | undefined, template: Template): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  const ref = isObject(value) ? value['Ref'] : undefined;
  if (typeof ref === 'string') {
    const max = template.Parameters?.[ref]?.['MaxValue'];
    return typeof max === 'number' || typeof max === 'string' ? Number(max) : undefined;
  }
  return undefined;
}

function checkTimeout(props: JsonObject, template: Template): string[] {
  if (props['Timeout'] === undefined) return ['no explicit Timeout (Lambda would default to 3 s)'];
  const timeout = numberOrParameterMax(props['Timeout'], template);
  if (timeout === undefined) return ['Timeout must be a number, or a Ref to a parameter with MaxValue'];
  if (!(timeout >= 1 && timeout <= MAX_TIMEOUT_SECONDS)) {
    return [`Timeout ${timeout} is outside 1..${MAX_TIMEOUT_SECONDS} seconds`];
  }
  return [];
}

function checkLogGroup(id: string, props: JsonObject, template: Template): string[] {
  const logging = props['LoggingConfig'];
  const target = isObject(logging) ? referencedId(logging['LogGroup']) : undefined;
  let group = target !== undefined ? template.Resources[target] : undefined;
  if (group?.Type !== 'AWS::Logs::LogGroup') {
    // Fallback: the implicit /aws/lambda/<function name> group, declared in the template.
    group = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Logs::LogGroup' &&
        JSON.stringify(r.Properties?.['LogGroupName'] ?? null).includes('/aws/lambda/') &&
        mentions(r.Properties?.['LogGroupName'], id),
    );
  }
  if (group === undefined) {
    return ['no log group of its own: add an AWS::Logs::LogGroup and point LoggingConfig.LogGroup at it'];
  }
  if (group.Properties?.['RetentionInDays'] === undefined) return ['its log group has no RetentionInDays'];
  return [];
}

function checkInvokeConfig(id: string, template: Template): string[] {
  const configs = Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && referencedId(r.Properties?.['FunctionName']) === id,
  );
  if (configs.length === 0) {
    return [
      'no EventInvokeConfig: async invocations need MaximumRetryAttempts and an OnFailure destination (DLQ)',
    ];
  }
  const problems: string[] = [];
  for (const config of configs) {
    const props = config.Properties ?? {};
    if (props['MaximumRetryAttempts'] === undefined)
      problems.push('EventInvokeConfig without MaximumRetryAttempts');
    const destinations = props['DestinationConfig'];
    const onFailure = isObject(destinations) ? destinations['OnFailure'] : undefined;
    if (!isObject(onFailure) || onFailure['Destination'] === undefined) {
      problems.push('EventInvokeConfig without an OnFailure destination (DLQ)');
    }
  }
  return problems;
}

function checkTarget(target: Json | undefined, where: string): string[] {
  if (!isObject(target)) return [];
  const problems: string[] = [];
  const retry = target['RetryPolicy'];
  if (
    !isObject(retry) ||
    (retry['MaximumRetryAttempts'] === undefined && retry['MaximumEventAgeInSeconds'] === undefined)
  ) {
    problems.push(`${where} has no RetryPolicy (EventBridge would retry for 24 h, 185 times)`);
  }
  const dlq = target['DeadLetterConfig'];
  if (!isObject(dlq) || dlq['Arn'] === undefined) problems.push(`${where} has no DeadLetterConfig (DLQ)`);
  return problems;
}

export function checkFunctions(template: Template, file: string): Finding[] {
  const findings: Finding[] = [];
  const add = (resource: string, messages: string[]): void => {
    for (const message of messages) findings.push({ file, resource, message });
  };
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props: JsonObject = resource.Properties ?? {};
    if (resource.Type === 'AWS::Serverless::Function') {
      add(id, ['untranslated SAM function: run the check on the translated template']);
    } else if (resource.Type === 'AWS::Lambda::Function') {
      const problems: string[] = [];
      if (props['Runtime'] !== RUNTIME)
        problems.push(`Runtime is ${JSON.stringify(props['Runtime'])}, expected ${RUNTIME}`);
      const arch = asList(props['Architectures']);
      if (arch.length !== 1 || arch[0] !== ARCHITECTURE) {
        problems.push(
          `Architectures is ${JSON.stringify(props['Architectures'] ?? 'x86_64 (default)')}, expected [${ARCHITECTURE}]`,
        );
      }
      const tracing = props['TracingConfig'];
      if (!isObject(tracing) || tracing['Mode'] !== 'Active') problems.push('Tracing is not Active');
      problems.push(
        ...checkTimeout(props, template),
        ...checkLogGroup(id, props, template),
        ...checkInvokeConfig(id, template),
      );
      add(id, problems);
    } else if (resource.Type === 'AWS::Events::Rule') {
      add(
        id,
        asList(props['Targets']).flatMap((t, i) =>
          checkTarget(t, `target ${isObject(t) && typeof t['Id'] === 'string' ? t['Id'] : i}`),
        ),
      );
    } else if (resource.Type === 'AWS::Scheduler::Schedule') {
      add(id, checkTarget(props['Target'], 'target'));
    }
  }
  return findings;
}
