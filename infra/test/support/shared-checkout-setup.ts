// vitest globalSetup of infra: one folder per run, under the system temp folder, for the scratch
// checkout the end-to-end tests share (support/shared-checkout.ts creates it lazily, so a run without
// those tests copies nothing). Removed when the run ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's shared folder, relative to the system temp folder. */
    sharedCheckoutRoot: string;
  }
}

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), 'netkit-infra-e2e-'));
  project.provide('sharedCheckoutRoot', basename(root));
  return () => rmSync(root, { recursive: true, force: true });
}
