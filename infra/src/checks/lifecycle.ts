// Lifecycle-hook and EventBridge checks, on plain CloudFormation (SAM templates after translation):
// - every function an Auto Scaling lifecycle rule invokes finishes all its attempts inside the hook
//   timeout the template documents (its EventInvokeConfig MaximumEventAgeInSeconds), so a retry
//   never starts or runs after the hook has already applied its DefaultResult;
// - EventBridge rule and schedule names fit EventBridge's 64 characters for any stack name.
import { asList, isObject, type Json, type JsonObject, referencedId, type Template } from '../cfn-yaml.ts';
import type { Finding } from './findings.ts';

/**
 * Lambda's waits between asynchronous attempts after a function error: about one minute before the
 * first retry and two minutes before the second (Lambda developer guide, "Error handling and
 * automatic retries in Lambda", asynchronous invocation).
 */
export const ASYNC_RETRY_DELAYS_SECONDS = [60, 120] as const;
/** Lambda's default MaximumRetryAttempts for asynchronous invocation. */
export const DEFAULT_ASYNC_RETRIES = 2;
/** EventBridge: rule names (and EventBridge Scheduler schedule names) are 1-64 characters. */
export const RULE_NAME_MAX = 64;
/** CloudFormation stack names are at most 128 characters. */
export const STACK_NAME_MAX = 128;

const LIFECYCLE_DETAIL_TYPES = [
  'EC2 Instance-launch Lifecycle Action',
  'EC2 Instance-terminate Lifecycle Action',
];

/** A number: a literal, or a Ref to a parameter, valued at the parameter's Default. */
function secondsOf(
  value: Json | undefined,
  template: Template,
): { seconds: number; from: string } | undefined {
  if (typeof value === 'number') return { seconds: value, from: '' };
  if (typeof value === 'string' && /^\d+$/.test(value)) return { seconds: Number(value), from: '' };
  const ref = isObject(value) ? value['Ref'] : undefined;
  if (typeof ref === 'string') {
    const def = template.Parameters?.[ref]?.['Default'];
    if (typeof def === 'number' || (typeof def === 'string' && /^\d+$/.test(def))) {
      return { seconds: Number(def), from: `parameter ${ref} default ${def}` };
    }
  }
  return undefined;
}

export function retryBudgetSeconds(timeoutSeconds: number, retries: number): number {
  let budget = timeoutSeconds * (retries + 1);
  for (let i = 0; i < retries; i++) budget += ASYNC_RETRY_DELAYS_SECONDS[Math.min(i, 1)]!;
  return budget;
}

function invokesLifecycle(rule: JsonObject): boolean {
  const pattern = JSON.stringify(rule['EventPattern'] ?? null);
  return LIFECYCLE_DETAIL_TYPES.some((t) => pattern.includes(`"${t}"`));
}

function checkBudget(functionId: string, template: Template): string[] {
  const fn = template.Resources[functionId];
  if (fn?.Type !== 'AWS::Lambda::Function') return [];
  const config = Object.values(template.Resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::EventInvokeConfig' &&
      referencedId(r.Properties?.['FunctionName']) === functionId,
  )?.Properties;
  const hook = secondsOf(config?.['MaximumEventAgeInSeconds'], template);
  if (hook === undefined) {
    return [
      'invoked by a lifecycle hook rule, but its EventInvokeConfig has no MaximumEventAgeInSeconds (a number or a parameter with a Default): set it to the hook timeout, so events the hook has given up on are dropped',
    ];
  }
  const timeout = secondsOf(fn.Properties?.['Timeout'], template);
  if (timeout === undefined) return []; // the function check reports a missing or unbounded Timeout
  const retriesValue = config?.['MaximumRetryAttempts'];
  const retries =
    retriesValue === undefined ? DEFAULT_ASYNC_RETRIES : secondsOf(retriesValue, template)?.seconds;
  if (retries === undefined) return [];
  const budget = retryBudgetSeconds(timeout.seconds, retries);
  if (budget <= hook.seconds) return [];
  const delays = budget - timeout.seconds * (retries + 1);
  const source = (v: { from: string }) => (v.from === '' ? '' : ` [${v.from}]`);
  return [
    `retry budget ${budget} s (Timeout ${timeout.seconds} s${source(timeout)} x ${retries + 1} attempts + ${delays} s of Lambda retry delays) exceeds the lifecycle hook timeout ${hook.seconds} s (the function's MaximumEventAgeInSeconds)${source(hook)}: lower the timeout or MaximumRetryAttempts, or document a longer hook timeout`,
  ];
}

/** The longest a `Name` can be, or undefined when it cannot be bounded. */
function maxNameLength(value: Json | undefined, template: Template): number | undefined {
  if (typeof value === 'string') return value.length;
  if (!isObject(value)) return undefined;
  const ref = value['Ref'];
  if (typeof ref === 'string') {
    if (ref === 'AWS::StackName') return STACK_NAME_MAX;
    const max = template.Parameters?.[ref]?.['MaxLength'];
    return typeof max === 'number' || typeof max === 'string' ? Number(max) : undefined;
  }
  const sub = value['Fn::Sub'];
  const text =
    typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  if (text === undefined) return undefined;
  let total = 0;
  for (const part of text.split(/(\$\{[^}]+\})/)) {
    const variable = /^\$\{([^}!]+)\}$/.exec(part)?.[1];
    if (variable === undefined) {
      total += part.length;
      continue;
    }
    const length = maxNameLength({ Ref: variable }, template);
    if (length === undefined) return undefined;
    total += length;
  }
  return total;
}

function checkName(props: JsonObject, template: Template): string[] {
  const name = props['Name'];
  if (name === undefined) return []; // CloudFormation generates a name within the limit
  const max = maxNameLength(name, template);
  if (max !== undefined && max <= RULE_NAME_MAX) return [];
  return [
    `Name ${JSON.stringify(name)} can be ${max === undefined ? 'of unbounded length' : `${max} characters`} (EventBridge allows ${RULE_NAME_MAX}; a stack name alone can be ${STACK_NAME_MAX}): omit Name so CloudFormation generates one, and refer to the rule by !GetAtt <rule>.Arn`,
  ];
}

export function checkLifecycle(template: Template, file: string): Finding[] {
  const findings: Finding[] = [];
  const add = (resource: string, messages: string[]): void => {
    for (const message of messages) findings.push({ file, resource, message });
  };
  const budgeted = new Set<string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props: JsonObject = resource.Properties ?? {};
    if (resource.Type === 'AWS::Events::Rule' || resource.Type === 'AWS::Scheduler::Schedule') {
      add(id, checkName(props, template));
    }
    if (resource.Type !== 'AWS::Events::Rule' || !invokesLifecycle(props)) continue;
    for (const target of asList(props['Targets'])) {
      const functionId = isObject(target) ? referencedId(target['Arn']) : undefined;
      if (functionId === undefined || budgeted.has(functionId)) continue;
      budgeted.add(functionId);
      add(functionId, checkBudget(functionId, template));
    }
  }
  return findings;
}
