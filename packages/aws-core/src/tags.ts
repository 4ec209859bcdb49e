/** Server-side tag filters that match resources carrying **all** pairs of `tags`. */
export function tagFilters(tags: Record<string, string>): { Name: string; Values: string[] }[] {
  return Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));
}

/** `[{Key, Value}]` as EC2 takes it. */
export function toTagList(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** Read EC2's `[{Key, Value}]` into a plain object. */
export function fromTagList(
  tags: readonly { Key?: string; Value?: string }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return out;
}

/** True when `tags` carries every pair of `wanted`. */
export function hasAllTags(
  tags: readonly { Key?: string; Value?: string }[] | undefined,
  wanted: Record<string, string>,
) {
  const have = fromTagList(tags);
  return Object.entries(wanted).every(([k, v]) => have[k] === v);
}
