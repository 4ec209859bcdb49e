// What the package's template deploys when every parameter keeps its Default: the doctor's stand-in
// for the function when no stack is deployed yet, so a preflight still checks the hook's
// HeartbeatTimeout against the function's wait. Values that depend on a parameter without a
// Default, a resource or an unsupported function are left out.
import { join } from 'node:path';
import { isObject, type Json, loadTemplate, type Template } from '../cfn-yaml.ts';
import { INFRA_DIR } from '../tools.ts';

const UNKNOWN = Symbol('unknown');
const NO_VALUE = Symbol('no value');
type Value = string | typeof UNKNOWN | typeof NO_VALUE;

function defaults(template: Template): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    const d = p['Default'];
    if (typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean') out[name] = String(d);
  }
  return out;
}

function condition(template: Template, params: Record<string, string>, node: Json): boolean | undefined {
  if (!isObject(node)) return undefined;
  const [fn, arg] = Object.entries(node)[0] ?? [];
  const list = Array.isArray(arg) ? arg : [];
  if (fn === 'Condition' && typeof arg === 'string') {
    const named = template.Conditions?.[arg];
    return named === undefined ? undefined : condition(template, params, named);
  }
  if (fn === 'Fn::Equals') {
    const [a, b] = list.map((v) => evaluate(template, params, v));
    return typeof a === 'string' && typeof b === 'string' ? a === b : undefined;
  }
  const parts = list.map((c) => condition(template, params, c));
  if (parts.includes(undefined)) return undefined;
  if (fn === 'Fn::Not') return !parts[0];
  if (fn === 'Fn::And') return parts.every(Boolean);
  if (fn === 'Fn::Or') return parts.some(Boolean);
  return undefined;
}

function evaluate(template: Template, params: Record<string, string>, node: Json): Value {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (!isObject(node)) return UNKNOWN;
  const [fn, arg] = Object.entries(node)[0] ?? [];
  if (fn === 'Ref' && arg === 'AWS::NoValue') return NO_VALUE;
  if (fn === 'Ref' && typeof arg === 'string') return params[arg] ?? UNKNOWN;
  if (fn === 'Fn::Sub' && typeof arg === 'string') {
    let unknown = false;
    const text = arg.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      const v = params[name];
      if (v === undefined) unknown = true;
      return v ?? '';
    });
    return unknown ? UNKNOWN : text;
  }
  if (fn === 'Fn::If' && Array.isArray(arg) && typeof arg[0] === 'string') {
    const holds = condition(template, params, { Condition: arg[0] });
    if (holds === undefined) return UNKNOWN;
    return evaluate(template, params, (holds ? arg[1] : arg[2]) ?? null);
  }
  return UNKNOWN;
}

/** The function `functionId` of infra/<pkg>/template.yaml as deployed with every Default. */
export function templateFunction(
  pkg: string,
  functionId: string,
  infraDir = INFRA_DIR,
): { name: string; timeout: number; env: Record<string, string> } | undefined {
  const template = loadTemplate(join(infraDir, pkg, 'template.yaml'));
  const params = defaults(template);
  const props = template.Resources[functionId]?.Properties;
  if (props === undefined) return undefined;
  const globals = isObject(template.Globals?.['Function']) ? template.Globals['Function'] : {};
  const timeout = Number(evaluate(template, params, props['Timeout'] ?? globals['Timeout'] ?? 3));
  if (!Number.isFinite(timeout)) return undefined;
  const vars = isObject(props['Environment']) ? props['Environment']['Variables'] : undefined;
  const env: Record<string, string> = {};
  for (const [key, node] of Object.entries(isObject(vars) ? vars : {})) {
    const v = evaluate(template, params, node);
    if (typeof v === 'string') env[key] = v;
  }
  return { name: `${functionId} of infra/${pkg}/template.yaml with its defaults`, timeout, env };
}
