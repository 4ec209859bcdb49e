// The Python tools the checks rely on: cfn-lint (with the SAM translator it ships) and the
// translate script under infra/scripts. Missing tools fail with the install command.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Template } from './cfn-yaml.ts';

export const CFN_LINT_INSTALL = 'pip install cfn-lint';
export const INFRA_DIR = resolve(import.meta.dirname, '..');
export const REPO_ROOT = resolve(INFRA_DIR, '..');

export function python(): string {
  return process.env['PYTHON'] ?? 'python3';
}

export class ToolMissingError extends Error {
  override readonly name = 'ToolMissingError';
}

export interface LintMatch {
  file: string;
  rule: string;
  level: string;
  message: string;
  line: number;
}

interface RawMatch {
  Filename: string;
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number } };
}

/**
 * Runs one cfn-lint process over every file (the SAM transform included) and returns its
 * matches. Exit status 0 = clean, 2/4/6/8... = matches found (bit flags); anything else or no
 * JSON on stdout is a failure of the tool itself.
 */
export function cfnLint(files: readonly string[]): LintMatch[] {
  if (files.length === 0) return [];
  const command = process.env['CFN_LINT'] ?? 'cfn-lint';
  const result = spawnSync(command, ['--format', 'json', '--', ...files], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ToolMissingError(
        `cfn-lint is not installed ('${command}' not found). Install it with: ${CFN_LINT_INSTALL}`,
      );
    }
    throw result.error;
  }
  let raw: RawMatch[];
  try {
    raw = JSON.parse(result.stdout || 'null') as RawMatch[];
  } catch {
    throw new Error(
      `cfn-lint exited ${result.status} without JSON output:\n${result.stderr}${result.stdout}`,
    );
  }
  if (!Array.isArray(raw)) throw new Error(`cfn-lint exited ${result.status}:\n${result.stderr}`);
  return raw.map((m) => ({
    file: relative(REPO_ROOT, resolve(REPO_ROOT, m.Filename)),
    rule: m.Rule.Id,
    level: m.Level,
    message: m.Message,
    line: m.Location.Start.LineNumber,
  }));
}

const TRANSLATE_SCRIPT = join(INFRA_DIR, 'scripts', 'sam_translate.py');

/**
 * Translates SAM templates to plain CloudFormation (templates without the SAM transform come
 * back unchanged). Local CodeUri values become `codeUri` (an S3 URI), as `sam deploy` does after
 * uploading the bundle.
 */
export function samTranslate(
  files: readonly string[],
  options: { codeUri?: string; region?: string } = {},
): Map<string, Template> {
  if (files.length === 0) return new Map();
  const args = [
    TRANSLATE_SCRIPT,
    '--code-uri',
    options.codeUri ?? 's3://netkit-rehearsal/code.zip',
    '--region',
    options.region ?? 'us-east-1',
    ...files,
  ];
  const result = spawnSync(python(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) {
    if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ToolMissingError(`'${python()}' not found: install Python 3 and then ${CFN_LINT_INSTALL}`);
    }
    throw result.error;
  }
  if (result.status === 3) throw new ToolMissingError(`${result.stderr.trim()}`);
  if (result.status !== 0)
    throw new Error(result.stderr.trim() || `sam_translate.py exited ${result.status}`);
  const parsed = JSON.parse(result.stdout) as Record<string, Template>;
  return new Map(files.map((f) => [f, parsed[f] as Template]));
}

export interface TemplateSet {
  /** Behaviour packages under packages/ that bundle a Lambda (they have a build.mjs). */
  lambdaPackages: string[];
  /** infra/<name>/template.yaml that exist, by package name. */
  packageTemplates: Map<string, string>;
  /** infra/examples/*.yaml */
  examples: string[];
}

/** Finds the templates to check. Adding a template is enough for every check to cover it. */
export function discoverTemplates(infraDir = INFRA_DIR): TemplateSet {
  const repo = resolve(infraDir, '..');
  const packagesDir = join(repo, 'packages');
  const lambdaPackages = existsSync(packagesDir)
    ? readdirSync(packagesDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(packagesDir, d.name, 'build.mjs')))
        .map((d) => d.name)
        .sort()
    : [];
  const packageTemplates = new Map<string, string>();
  for (const entry of readdirSync(infraDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = join(infraDir, entry.name, 'template.yaml');
    if (existsSync(file)) packageTemplates.set(entry.name, file);
  }
  const examplesDir = join(infraDir, 'examples');
  const examples = existsSync(examplesDir)
    ? readdirSync(examplesDir)
        .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
        .sort()
        .map((f) => join(examplesDir, f))
    : [];
  return { lambdaPackages, packageTemplates: new Map([...packageTemplates].sort()), examples };
}
