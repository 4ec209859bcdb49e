import { join, resolve } from 'node:path';
import { ensureBuilt as ensureDist } from '@netkit/demo/testing';

export const packageDir = resolve(import.meta.dirname, '../..');
export const distDir = join(packageDir, 'dist');

/** Build dist/ when it is missing or older than the sources (tests run the bundles that deploy). */
export function ensureBuilt(): void {
  ensureDist(packageDir, ['index', 'agent', 'pool']);
}
