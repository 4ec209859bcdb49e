// Apart from lifecycle.ts so a bundle that only loads config carries no Auto Scaling commands (ADR 0082).
import { type ConfigOf, optional, string, stringList } from './config.ts';

/** Auto Scaling group names: 1-255 characters, no control characters or lone surrogates. */
export const GROUP_NAME = /^[^\p{Cc}\p{Cs}]{1,255}$/u;
/** Lifecycle hook names: `[A-Za-z0-9\-_\/]+`, 1-255 characters (PutLifecycleHook API reference). */
export const HOOK_NAME = /^[A-Za-z0-9_/-]{1,255}$/;
/** Configuration of a lifecycle hook handler: which group (and hooks) its events may come from. */
export const lifecycleScopeSpec = {
  /** The one Auto Scaling group whose lifecycle events this function acts on. */
  AUTO_SCALING_GROUP_NAME: string({
    pattern: GROUP_NAME,
    description: 'the Auto Scaling group name (1-255 characters, no control characters)',
  }),
  /** Optional: the lifecycle hook names whose events this function acts on (any hook of the group when unset). */
  LIFECYCLE_HOOK_NAMES: optional(
    stringList({ pattern: HOOK_NAME, item: 'lifecycle hook name ([A-Za-z0-9-_/], 1-255 characters)' }),
  ),
};

/** Which lifecycle actions a handler may act on. */
export interface LifecycleScope {
  groupName: string;
  /** Unset: every hook of the group. */
  hookNames?: readonly string[];
}

/** The scope from a parsed `lifecycleScopeSpec` configuration. */
export function lifecycleScopeOf(config: ConfigOf<typeof lifecycleScopeSpec>): LifecycleScope {
  const scope: LifecycleScope = { groupName: config.AUTO_SCALING_GROUP_NAME };
  if (config.LIFECYCLE_HOOK_NAMES !== undefined) scope.hookNames = config.LIFECYCLE_HOOK_NAMES;
  return scope;
}
