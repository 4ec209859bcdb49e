// Repo-wide template checks, driven by what exists on disk: every infra/<package>/template.yaml
// and infra/examples/*.yaml is covered as soon as it lands.
import { relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CheckedTemplate, checkTemplates, formatFindings } from '../src/checks/index.ts';
import { cfnLint, discoverTemplates, REPO_ROOT } from '../src/tools.ts';

const found = discoverTemplates();
const files = [...found.packageTemplates.values(), ...found.examples];
const names = files.map((f) => relative(REPO_ROOT, f));

describe('infra templates', () => {
  it('has a template and an example stack for every Lambda package', () => {
    const missing = found.lambdaPackages.flatMap((pkg) => [
      ...(found.packageTemplates.has(pkg) ? [] : [`infra/${pkg}/template.yaml`]),
      ...(found.examples.some((e) => e.endsWith(`/examples/${pkg}.yaml`))
        ? []
        : [`infra/examples/${pkg}.yaml`]),
    ]);
    expect(found.lambdaPackages.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it(
    'passes cfn-lint (SAM transform included) with zero errors and zero warnings on every template and example',
    { timeout: 600_000 },
    () => {
      const problems = cfnLint(files).filter((m) => m.level === 'Error' || m.level === 'Warning');
      expect(problems.map((m) => `${m.file}:${m.line} ${m.rule} ${m.message}`)).toEqual([]);
    },
  );
});

describe('IAM and function checks', () => {
  let checked: Map<string, CheckedTemplate>;
  beforeAll(() => {
    checked = new Map(checkTemplates(files).map((c) => [c.file, c]));
  });

  // With no template on disk the single placeholder case fails: "nothing to check" is not a pass.
  it.each(
    names.length > 0 ? names : ['(no template found under infra/)'],
  )('%s grants least privilege and wires every function as the conventions say', (name) => {
    const result = checked.get(name);
    expect(result, `${name} was checked`).toBeDefined();
    expect(formatFindings(result?.findings ?? [])).toBe('');
  });
});
