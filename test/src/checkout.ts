// A scratch checkout of this repository, for commands that write where they run (turbo builds,
// release:pack, deploy). A test that runs them in the repository itself would rewrite the dist/
// folders other test processes are importing at that moment; in a scratch checkout they write only
// there. Plain Node can load this file (type stripping), so scripts/turbo-cache.mjs uses it too.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The repository this file belongs to. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Caches of tools inside an installed node_modules: never part of a checkout. */
const TOOL_CACHES = new Set(['.vite', '.vite-temp', '.cache']);

export interface ScratchCheckout {
  /** The folder that holds the checkout. */
  readonly dir: string;
  /** Delete the checkout. */
  remove(): void;
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Recreate the installed node_modules `from` at `to`: the same links (pnpm's are relative, so a
 * workspace link points at the scratch copy of that workspace, and a package link at the store
 * through the root node_modules), and links to the installed files that are not links.
 */
function mirrorInstalled(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (TOOL_CACHES.has(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else if (entry.isDirectory())
      mirrorInstalled(source, target); // a @scope or .bin folder
    else symlinkSync(source, target);
  }
}

/**
 * Copy the repository's files (tracked, and untracked ones that are not ignored, as in the work
 * tree) into a new folder under the system temp folder, commit them to a fresh git repository, and
 * link in the installed dependencies: the root node_modules itself, and each workspace's
 * node_modules mirrored link by link. Nothing is installed and no build output is copied.
 */
export function scratchCheckout(prefix = 'netkit-checkout-', root = REPO_ROOT): ScratchCheckout {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const files = git(['ls-files', '-co', '--exclude-standard', '-z'], root).split('\0').filter(Boolean);
    const workspaces = new Set<string>();
    for (const file of files) {
      const from = join(root, file);
      if (!existsSync(from)) continue; // deleted in the work tree
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      cpSync(from, join(dir, file));
      if (file.endsWith('package.json') && file !== 'package.json') workspaces.add(dirname(file));
    }
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    for (const workspace of workspaces) {
      const installed = join(root, workspace, 'node_modules');
      if (existsSync(installed)) mirrorInstalled(installed, join(dir, workspace, 'node_modules'));
    }
    git(['init', '-q'], dir);
    git(['add', '-A'], dir);
    git(
      [
        '-c',
        'user.name=scratch',
        '-c',
        'user.email=scratch@localhost',
        'commit',
        '-qm',
        'scratch',
        '--no-verify',
      ],
      dir,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
