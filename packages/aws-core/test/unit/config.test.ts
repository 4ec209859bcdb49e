import { describe, expect, it } from 'vitest';
import {
  boolean,
  InvalidValueError,
  integer,
  json,
  oneOf,
  optional,
  parseConfig,
  patterns,
  string,
  stringList,
  stringMap,
} from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

describe('parseConfig', () => {
  it('parses every field kind into a typed object', () => {
    const config = parseConfig(
      {
        NAME: string(),
        COUNT: integer({ min: 1, max: 10 }),
        ENABLED: boolean(),
        MODE: oneOf(['a', 'b'] as const),
        SUBNETS: stringList({ pattern: patterns.subnetId }),
        TAGS: stringMap(),
        LIMIT: optional(integer({ min: 0 }), 42),
        MISSING: optional(string()),
        MAP: json('an object', (v) => v as { x: number }),
      },
      {
        NAME: ' pool ',
        COUNT: '3',
        ENABLED: 'TRUE',
        MODE: 'b',
        SUBNETS: '["subnet-0123456789abcdef0","subnet-11111111"]',
        TAGS: '{"Application":"prod ForwardProxy"}',
        MAP: '{"x":1}',
      },
    );
    expect(config).toEqual({
      NAME: 'pool',
      COUNT: 3,
      ENABLED: true,
      MODE: 'b',
      SUBNETS: ['subnet-0123456789abcdef0', 'subnet-11111111'],
      TAGS: { Application: 'prod ForwardProxy' },
      LIMIT: 42,
      MISSING: undefined,
      MAP: { x: 1 },
    });
  });

  it('accepts a comma-separated list and drops duplicates', () => {
    const { L } = parseConfig({ L: stringList() }, { L: 'a, b ,a' });
    expect(L).toEqual(['a', 'b']);
  });

  it('bounds a list by its distinct items, naming the limit and the count', () => {
    const field = stringList({ item: 'group', maxItems: 2, limit: 'the AWS limit' });
    expect(parseConfig({ L: field }, { L: 'a,b,a,b' }).L).toEqual(['a', 'b']);
    expect(() => parseConfig({ L: field }, { L: 'a,b,c' })).toThrow(
      'L="a,b,c": expected a JSON array or comma-separated list of 1 to 2 groups (the AWS limit); got 3',
    );
  });

  it('bounds a map by its number of entries', () => {
    const field = stringMap({ maxKeys: 2 });
    expect(parseConfig({ M: field }, { M: '{"a":"1","b":"2"}' }).M).toEqual({ a: '1', b: '2' });
    expect(() => parseConfig({ M: field }, { M: '{"a":"1","b":"2","c":"3"}' })).toThrow(
      'expected a JSON object of key -> string value with 1 to 2 entries; got 3',
    );
  });

  it('quotes a bad map key bounded and with hidden characters escaped', () => {
    const field = stringMap({ keyPattern: /^[a-z]{1,128}$/ });
    for (const key of ['k'.repeat(3_000), 'a\u202Eb']) {
      let message = '';
      try {
        parseConfig({ TAGS: field }, { TAGS: JSON.stringify({ [key]: 'v' }) });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/bad entry /);
      expect(message.length).toBeLessThan(400);
      expect(message).not.toContain('\u202E');
    }
  });

  it('treats an empty variable as unset', () => {
    const { X } = parseConfig({ X: optional(integer(), 7) }, { X: '' });
    expect(X).toBe(7);
  });

  it('reports every bad variable with its name, value and what was expected', () => {
    const attempt = () =>
      parseConfig(
        { COUNT: integer({ min: 1, max: 10 }), TAGS: stringMap(), NAME: string(), ON: boolean() },
        { COUNT: '11', TAGS: '{bad', ON: 'yes' },
      );
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const e = error as ConfigError;
      expect(e.issues.map((i) => i.variable)).toEqual(['COUNT', 'TAGS', 'NAME', 'ON']);
      expect(e.message).toContain('COUNT="11": expected an integer from 1 to 10');
      expect(e.message).toContain('TAGS="{bad": expected a JSON object');
      expect(e.message).toContain('not valid JSON');
      expect(e.message).toContain('NAME=(unset): expected a non-empty string');
      expect(e.message).toContain('ON="yes": expected true or false');
    }
  });

  it.each([
    ['not an integer', integer(), '1.5'],
    ['below min', integer({ min: 2 }), '1'],
    ['unknown choice', oneOf(['x']), 'y'],
    ['array with a non-string', stringList(), '["a", 1]'],
    ['list item failing the pattern', stringList({ pattern: patterns.subnetId }), 'subnet-1,sg-12345678'],
    ['empty list', stringList(), '[]'],
    ['broken JSON list', stringList(), '["a"'],
    ['map that is an array', stringMap(), '["a"]'],
    ['map with a non-string value', stringMap(), '{"a":1}'],
    ['empty map', stringMap(), '{}'],
    ['string failing the pattern', string({ pattern: patterns.vpcId }), 'vpc-XYZ'],
    [
      'json failing validation',
      json('a number', (v) => {
        if (typeof v !== 'number') throw new InvalidValueError('a number');
        return v;
      }),
      '"x"',
    ],
  ])('rejects %s', (_label, field, value) => {
    expect(() => parseConfig({ V: field }, { V: value })).toThrow(ConfigError);
  });

  it('lets non-validation errors from a parser through unchanged', () => {
    const boom = {
      parse: () => {
        throw new TypeError('bug');
      },
    };
    expect(() => parseConfig({ V: boom }, { V: 'x' })).toThrow(TypeError);
  });

  it('recognises AWS id patterns', () => {
    expect(patterns.availabilityZone.test('ap-northeast-1a')).toBe(true);
    expect(patterns.availabilityZone.test('us-gov-west-1b')).toBe(true);
    expect(patterns.availabilityZone.test('subnet-1')).toBe(false);
    expect(patterns.arn.test('arn:aws:ecs:us-east-1:123456789012:cluster/c')).toBe(true);
  });
});
