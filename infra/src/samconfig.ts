// SAM CLI configuration files (samconfig.toml) read the way the SAM CLI reads them, so that
// `pnpm run deploy` can check a deploy before any tool runs and the AWS CLI fallback (which
// does not read samconfig) deploys with the same values.
//
// - One file next to each template: infra/<package>/samconfig.toml, SAM's default lookup
//   (the SAM CLI resolves a relative --config-file from the template's folder).
// - Sections [<env>.global.parameters] and [<env>.deploy.parameters]; the command's section
//   wins over global (samcli/lib/config/samconfig.py, get_all).
// - parameter_overrides is a string "Key=Value Key2=\"value with space\"" or a list of such
//   strings; SAM splits it with the regexes of samcli/cli/types.py (CfnParameterOverridesType),
//   ported below, and then unquotes each value (_unquote_wrapped_quotes).
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';

export class SamConfigError extends Error {
  override readonly name = 'SamConfigError';
}

export type SamValue = string | number | boolean | string[];

export interface SamConfig {
  file: string;
  /** Environment name -> merged parameters of the command (global, then the command's). */
  environments: Map<string, Record<string, SamValue>>;
}

function toValue(file: string, where: string, v: unknown): SamValue {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new SamConfigError(`${file}: ${where} must be a string, number, boolean or list of strings`);
}

/**
 * The parameters SAM gives `command` (deploy, delete, logs, sync, ...) per environment: the
 * environment's [<env>.global.parameters], then [<env>.<command>.parameters] over them.
 */
export function readSamConfig(file: string, command = 'deploy'): SamConfig {
  if (!existsSync(file)) throw new SamConfigError(`${file} does not exist`);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new SamConfigError(`${file} is not valid TOML: ${(error as Error).message.split('\n')[0]}`);
  }
  const environments = new Map<string, Record<string, SamValue>>();
  for (const [env, commands] of Object.entries(doc)) {
    if (env === 'version') continue;
    if (typeof commands !== 'object' || commands === null || Array.isArray(commands)) {
      throw new SamConfigError(`${file}: [${env}] must be a table of commands ([${env}.deploy.parameters])`);
    }
    const merged: Record<string, SamValue> = {};
    for (const name of ['global', command]) {
      const section = (commands as Record<string, unknown>)[name];
      if (section === undefined) continue;
      const parameters = (section as Record<string, unknown>)['parameters'];
      if (typeof parameters !== 'object' || parameters === null) continue;
      for (const [key, value] of Object.entries(parameters as Record<string, unknown>)) {
        merged[key] = toValue(file, `[${env}.${name}.parameters] ${key}`, value);
      }
    }
    environments.set(env, merged);
  }
  return { file, environments };
}

// --- parameter_overrides, as samcli/cli/types.py parses it -----------------------------------

const KEY = `([A-Za-z0-9"']+)`;
// _generate_match_regex(match_pattern=".", delim=" ")
const VALUE = String.raw`("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)`;
const PATTERN_1 = new RegExp(`(?:ParameterKey=${KEY},ParameterValue=${VALUE})`, 'g');
const PATTERN_2 = new RegExp(`(?:(?: )${KEY}=${VALUE})`, 'g');

function unquoteWrappedQuotes(value: string): string {
  let v = value;
  if (v.length > 0 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
  return v.replaceAll('\\ ', ' ').replaceAll('\\"', '"').replaceAll("\\'", "'");
}

/**
 * The Key -> Value map the SAM CLI makes of a parameter_overrides value (a string, or a list of
 * strings, from samconfig or from repeated --parameter-overrides arguments).
 */
export function parseSamParameterOverrides(value: string | readonly string[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const item of typeof value === 'string' ? [value] : value) {
    if (item.trim() === '') continue;
    const normalized = ` ${item.trim()}`;
    let matched = false;
    for (const pattern of [PATTERN_1, PATTERN_2]) {
      const matches = [...normalized.matchAll(pattern)];
      if (matches.length === 0) continue;
      for (const m of matches)
        result.set(unquoteWrappedQuotes(m[1] as string), unquoteWrappedQuotes(m[2] as string));
      matched = true;
      break;
    }
    if (!matched) throw new SamConfigError(`parameter_overrides '${item}' is not Key=Value`);
  }
  return result;
}

/**
 * One Key=Value for the SAM CLI's --parameter-overrides that it parses back to exactly `value`:
 * double-quoted, inner double quotes escaped. A backslash before a space or a quote (or at the
 * end) cannot be passed through SAM's parser unchanged, so it is refused.
 */
export function quoteSamParameter(key: string, value: string): string {
  if (/\\([ "']|$)/.test(value)) {
    throw new SamConfigError(
      `parameter ${key}: the SAM CLI cannot pass a value with a backslash before a space, a quote or the end`,
    );
  }
  return `${key}="${value.replaceAll('"', '\\"')}"`;
}

/** tags = "k=v k2=\"v 2\"" (or a list) as SAM parses it (same quoting rules as parameter_overrides). */
export function parseSamTags(value: SamValue | undefined): Map<string, string> {
  if (value === undefined) return new Map();
  if (typeof value !== 'string' && !Array.isArray(value)) throw new SamConfigError('tags must be a string');
  const result = new Map<string, string>();
  for (const item of typeof value === 'string' ? [value] : value) {
    // SAM's CfnTags: the same quoted-value grammar, keys may hold ':' '/' '.' '-' '_' '@' '+' '='.
    const re =
      /(?:^| )((?:"[^"]*"|'[^']*'|[^ ="']+))=((?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|(?:\\.|[^ "\\])+))/g;
    const matches = [...` ${item.trim()}`.matchAll(re)];
    if (matches.length === 0 && item.trim() !== '') throw new SamConfigError(`tags '${item}' is not k=v`);
    for (const m of matches)
      result.set(unquoteWrappedQuotes(m[1] as string), unquoteWrappedQuotes(m[2] as string));
  }
  return result;
}

export function asString(v: SamValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(' ') : String(v);
}

export function asList(v: SamValue | undefined): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  return String(v)
    .split(/[\s,]+/)
    .filter((s) => s !== '');
}

export function asBool(v: SamValue | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new SamConfigError(`expected true or false, got ${JSON.stringify(v)}`);
}
