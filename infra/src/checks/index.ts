import { relative } from 'node:path';
import { loadTemplate, type Template } from '../cfn-yaml.ts';
import { REPO_ROOT, samTranslate } from '../tools.ts';
import { checkAlarms } from './alarms.ts';
import { dedupe, type Finding } from './findings.ts';
import { checkFunctions } from './functions.ts';
import { checkIam } from './iam.ts';
import { checkLifecycle } from './lifecycle.ts';

export { formatFindings } from './findings.ts';
export type { Finding };

export interface CheckedTemplate {
  file: string;
  source: Template;
  translated: Template;
  findings: Finding[];
}

/**
 * IAM and function checks for every file: IAM on the SAM source (managed policy names, policy
 * templates) and on the translation (what CloudFormation will really create), function checks on
 * the translation. One translator process for all files.
 */
export function checkTemplates(files: readonly string[]): CheckedTemplate[] {
  const translated = samTranslate(files);
  return files.map((file) => {
    const name = relative(REPO_ROOT, file);
    const source = loadTemplate(file);
    const plain = translated.get(file) as Template;
    const findings = dedupe([
      ...checkIam(source, name),
      ...checkIam(plain, name),
      ...checkFunctions(plain, name),
      ...alarmFindings(plain, name),
      ...checkLifecycle(plain, name),
    ]);
    return { file: name, source, translated: plain, findings };
  });
}

/** Package templates (infra/<package>/template.yaml) must carry their alarms and a dashboard. */
function alarmFindings(plain: Template, name: string): Finding[] {
  const pkg = /^infra\/([^/]+)\/template\.ya?ml$/.exec(name.split('\\').join('/'))?.[1];
  return pkg === undefined || pkg === 'examples' ? [] : checkAlarms(plain, name, pkg);
}
