// When scripts/test.sh runs the turbo cache-key probe (ADR 0095). The probe proves which tasks an
// edit re-runs; its answer depends only on how turbo is configured: the turbo.json files, the
// package.json files (scripts, dependencies), the workspace list, .gitignore, turbo's version and
// the probe itself. So it runs when that configuration differs from the one the last passing probe
// saw (recorded in .turbo/, which git ignores: a fresh clone has none), when CI runs, or when asked.
// Plain Node loads this file (type stripping), as scripts/turbo-cache.mjs does.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Where the fingerprint of the configuration the last passing probe saw is kept, under the repo root. */
export const STAMP_FILE = '.turbo/cache-key-probe.json';

/** Files, by name, anywhere in the work tree, that configure turbo's task graph and hashing. */
const CONFIG_NAMES = new Set(['turbo.json', 'package.json', 'pnpm-workspace.yaml', '.gitignore']);
/** The probe itself: a changed probe list must run. */
const PROBE_FILES = ['scripts/turbo-cache.mjs', 'scripts/turbo-probe-gate.ts'];

/** The configuration files of the work tree at `root` (tracked, and untracked ones git does not ignore). */
export function configFiles(root: string): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .split('\0')
    .filter((f) => f !== '' && CONFIG_NAMES.has(basename(f)));
  const files = new Set([...listed, ...PROBE_FILES]);
  return [...files].filter((f) => existsSync(join(root, f))).sort();
}

/** The installed turbo's version ('none' when it is not installed). */
function turboVersion(root: string): string {
  const manifest = join(root, 'node_modules', 'turbo', 'package.json');
  return existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')).version ?? 'unknown') : 'none';
}

/** A hash of every configuration file's path and content, and of turbo's version. */
export function configFingerprint(root: string): string {
  const hash = createHash('sha256').update(`turbo ${turboVersion(root)}\n`);
  for (const file of configFiles(root)) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(root, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

export function readStamp(root: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(root, STAMP_FILE), 'utf8')).fingerprint;
  } catch {
    return undefined;
  }
}

export function writeStamp(root: string, fingerprint: string): void {
  const file = join(root, STAMP_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ fingerprint, passedAt: new Date().toISOString() }, null, 2)}\n`);
}

export interface ProbeDecision {
  run: boolean;
  reason: string;
}

/**
 * Whether the probe runs. `NETKIT_TURBO_PROBE=1` asks for it and `=0` skips it, whatever else holds;
 * CI (`CI=true`) always runs it; otherwise it runs when the configuration's fingerprint differs from
 * the one recorded after the last passing probe, or when none was recorded (a fresh clone).
 */
export function probeDecision(
  env: Record<string, string | undefined>,
  fingerprint: string,
  stamp: string | undefined,
): ProbeDecision {
  const asked = env.NETKIT_TURBO_PROBE;
  if (asked === '1') return { run: true, reason: 'NETKIT_TURBO_PROBE=1 asks for it' };
  if (asked === '0') return { run: false, reason: 'NETKIT_TURBO_PROBE=0 skips it' };
  if (env.CI === 'true' || env.CI === '1') return { run: true, reason: 'CI runs it on every run' };
  if (stamp === undefined) return { run: true, reason: 'no probe has passed in this clone yet' };
  if (stamp !== fingerprint) {
    return { run: true, reason: 'the turbo or package configuration changed since the last passing probe' };
  }
  return {
    run: false,
    reason: 'the turbo and package configuration are as the last passing probe saw them',
  };
}

export interface GateResult extends ProbeDecision {
  /** Whether the probe ran and passed (true when it did not run). */
  passed: boolean;
}

/**
 * Decide, run `probe` if needed, and record the configuration's fingerprint when it passed. The
 * fingerprint is taken before the probe runs, so an edit made meanwhile runs the probe again.
 */
export function gateProbe(
  root: string,
  env: Record<string, string | undefined>,
  probe: () => boolean,
): GateResult {
  const fingerprint = configFingerprint(root);
  const decision = probeDecision(env, fingerprint, readStamp(root));
  if (!decision.run) return { ...decision, passed: true };
  const passed = probe();
  if (passed) writeStamp(root, fingerprint);
  return { ...decision, passed };
}
