import { ConfigError, type ConfigIssue, echo, InvalidValueError } from './errors.ts';

interface Field<T> {
  /** Returns the parsed value or throws `InvalidValueError` with what was expected. */
  parse(raw: string | undefined): T;
}

export { InvalidValueError };

type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** Parse the environment once into a typed object; every problem goes into one ConfigError. */
export function parseConfig<S extends Spec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const issues: ConfigIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const [variable, field] of Object.entries(spec)) {
    const raw = env[variable];
    try {
      out[variable] = field.parse(raw === '' ? undefined : raw);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      issues.push({ variable, value: raw, expected: error.message });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out as ConfigOf<S>;
}

function required<T>(expected: string, parse: (raw: string) => T): Field<T> {
  return {
    parse(raw) {
      if (raw === undefined) throw new InvalidValueError(expected);
      return parse(raw);
    },
  };
}

/** Make a field optional: unset (or empty) gives `fallback`. */
export function optional<T, D extends T | undefined = undefined>(
  field: Field<T>,
  fallback?: D,
): Field<T | D> {
  return {
    parse(raw) {
      return raw === undefined ? (fallback as D) : field.parse(raw);
    },
  };
}

export function string(options: { pattern?: RegExp; description?: string } = {}): Field<string> {
  const expected =
    options.description ?? (options.pattern ? `a string matching ${options.pattern}` : 'a non-empty string');
  return required(expected, (raw) => {
    const value = raw.trim();
    if (value === '' || (options.pattern && !options.pattern.test(value)))
      throw new InvalidValueError(expected);
    return value;
  });
}

export function integer(options: { min?: number; max?: number } = {}): Field<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  const expected = `an integer from ${min} to ${max}`;
  return required(expected, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidValueError(expected);
    const value = Number(raw.trim());
    if (value < min || value > max) throw new InvalidValueError(expected);
    return value;
  });
}

export function boolean(): Field<boolean> {
  const expected = 'true or false';
  return required(expected, (raw) => {
    const value = raw.trim().toLowerCase();
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw new InvalidValueError(expected);
  });
}

export function oneOf<const T extends string>(values: readonly T[]): Field<T> {
  const expected = `one of ${values.join(', ')}`;
  return required(expected, (raw) => {
    const value = raw.trim();
    if (!(values as readonly string[]).includes(value)) throw new InvalidValueError(expected);
    return value as T;
  });
}

/**
 * A JSON array of strings or a comma-separated list; each item may be checked by `pattern`, and the
 * number of distinct items bounded by `minItems` and `maxItems` (an AWS limit, named in `limit`).
 */
export function stringList(
  options: { pattern?: RegExp; item?: string; minItems?: number; maxItems?: number; limit?: string } = {},
): Field<string[]> {
  const { pattern, item = 'string', minItems = 1, maxItems } = options;
  const count =
    maxItems === undefined
      ? `at least ${minItems}`
      : minItems === maxItems
        ? `${minItems}`
        : `${minItems} to ${maxItems}`;
  const expected = `a JSON array or comma-separated list of ${count} ${item}${count === '1' ? '' : 's'}${options.limit ? ` (${options.limit})` : ''}`;
  return required(expected, (raw) => {
    const text = raw.trim();
    let items: unknown;
    if (text.startsWith('[')) {
      try {
        items = JSON.parse(text);
      } catch {
        throw new InvalidValueError(expected);
      }
    } else {
      items = text.split(',').map((s) => s.trim());
    }
    if (!Array.isArray(items) || items.length < minItems) throw new InvalidValueError(expected);
    const strings = items.map((v) => (typeof v === 'string' ? v.trim() : v));
    if (strings.some((v) => typeof v !== 'string' || v === '' || (pattern && !pattern.test(v)))) {
      throw new InvalidValueError(expected);
    }
    const distinct = [...new Set(strings as string[])];
    if (maxItems !== undefined && distinct.length > maxItems) {
      throw new InvalidValueError(`${expected}; got ${distinct.length}`);
    }
    return distinct;
  });
}

/** A JSON object whose values are strings, e.g. tags `{"Application":"prod"}`. */
export function stringMap(
  options: {
    keyPattern?: RegExp;
    valuePattern?: RegExp;
    what?: string;
    minKeys?: number;
    maxKeys?: number;
  } = {},
): Field<Record<string, string>> {
  const { keyPattern, valuePattern, what = 'key -> string value', minKeys = 1, maxKeys } = options;
  const count = maxKeys === undefined ? `at least ${minKeys}` : `${minKeys} to ${maxKeys}`;
  const expected = `a JSON object of ${what} with ${count} entr${count === '1' ? 'y' : 'ies'}`;
  return json(expected, (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new InvalidValueError(expected);
    const entries = Object.entries(value);
    if (entries.length < minKeys) throw new InvalidValueError(expected);
    if (maxKeys !== undefined && entries.length > maxKeys)
      throw new InvalidValueError(`${expected}; got ${entries.length}`);
    for (const [k, v] of entries) {
      if (
        k === '' ||
        typeof v !== 'string' ||
        (keyPattern && !keyPattern.test(k)) ||
        (valuePattern && !valuePattern.test(v))
      ) {
        throw new InvalidValueError(`${expected}; bad entry ${echo(k, 40)}`);
      }
    }
    return Object.fromEntries(entries) as Record<string, string>;
  });
}

/** Any JSON value checked by `validate`, which returns the typed value or throws InvalidValueError. */
export function json<T>(expected: string, validate: (value: unknown) => T): Field<T> {
  return required(expected, (raw) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new InvalidValueError(`${expected} (not valid JSON)`);
    }
    return validate(value);
  });
}

/** Common AWS identifier shapes. */
export const patterns = {
  subnetId: /^subnet-[0-9a-f]{8,17}$/,
  securityGroupId: /^sg-[0-9a-f]{8,17}$/,
  vpcId: /^vpc-[0-9a-f]{8,17}$/,
  routeTableId: /^rtb-[0-9a-f]{8,17}$/,
  arn: /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$/,
  availabilityZone: /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/,
} as const;
