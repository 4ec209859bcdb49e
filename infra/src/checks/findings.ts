export interface Finding {
  /** Template file (repo-relative when known). */
  file: string;
  /** Logical id of the resource the finding is about. */
  resource: string;
  message: string;
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file} ${f.resource}: ${f.message}`).join('\n');
}

/** Same finding reported from the SAM source and from its translation: keep one. */
export function dedupe(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.file}|${f.resource}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
