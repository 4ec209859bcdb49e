import { describe, expect, it } from 'vitest';
import { inlineConstantKeys } from '../sdk-schema-keys.mjs';

describe('inlineConstantKeys', () => {
  it('turns computed keys naming module string constants into literal keys', () => {
    const source = [
      'const _xN = "xmlName";',
      'const _q = "say \\"hi\\"";',
      'export var A$ = [3, n0, _A, 0, [_x], [[() => B$, { [_xN]: _TSa, [_q]: 1 }]]];',
    ].join('\n');
    const { code, replaced } = inlineConstantKeys(source);
    expect(replaced).toBe(2);
    expect(code).toContain('{ "xmlName": _TSa, "say \\"hi\\"": 1 }');
  });

  it('leaves keys alone that are not module string constants', () => {
    const source = 'let _dyn = f();\nexport var A$ = { [_dyn]: 1, [other]: 2 };';
    const { code, replaced } = inlineConstantKeys(source);
    expect(replaced).toBe(0);
    expect(code).toBe(source);
  });
});
