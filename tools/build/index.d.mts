// Types of index.mjs for TypeScript consumers (infra's grant check).
import type { Metafile } from 'esbuild';

export declare const NODE_TARGET: string;
export declare const CHUNK_DIR: string;

export interface BundleOptions {
  dir: string;
  entries: Record<string, string>;
  banner?: string;
}

export declare function bundle(options: BundleOptions): Promise<{ metafile: Metafile }>;
export declare function bundleAlone(options: BundleOptions): Promise<Metafile>;
