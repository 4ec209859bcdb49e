import { describe, expect, it } from 'vitest';
import { fromTagList, hasAllTags, tagFilters, toTagList } from '../../src/tags.ts';

describe('tags', () => {
  it('builds one server-side filter per tag so all pairs must match', () => {
    expect(tagFilters({ Application: 'prod ForwardProxy', Pool: 'a' })).toEqual([
      { Name: 'tag:Application', Values: ['prod ForwardProxy'] },
      { Name: 'tag:Pool', Values: ['a'] },
    ]);
  });

  it('converts between EC2 tag lists and objects', () => {
    expect(toTagList({ a: '1' })).toEqual([{ Key: 'a', Value: '1' }]);
    expect(fromTagList([{ Key: 'a', Value: '1' }, { Key: 'b' }, { Value: 'orphan' }])).toEqual({
      a: '1',
      b: '',
    });
    expect(fromTagList(undefined)).toEqual({});
  });

  it('checks that every wanted pair is present', () => {
    const tags = [
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: '2' },
    ];
    expect(hasAllTags(tags, { a: '1' })).toBe(true);
    expect(hasAllTags(tags, { a: '1', b: '3' })).toBe(false);
    expect(hasAllTags(undefined, { a: '1' })).toBe(false);
  });
});
