// The one scratch checkout (ADR 0072) the infra end-to-end tests share in a run: release.test.ts packs
// every package in it and deploy-emulator.test.ts deploys from it, so the packages are built once and
// the deploy's build is a turbo cache hit. Test files run in parallel workers, and a build (even a
// cache hit, which rewrites the outputs in place) must never run beside another command reading the
// same dist/: every command in the checkout runs under one lock (a folder created atomically).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchCheckout } from '@netkit/testing/checkout';
import { inject } from 'vitest';

const LOCK_TIMEOUT_MS = 900_000;

function root(): string {
  return join(tmpdir(), inject('sharedCheckoutRoot'));
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function lock(): () => void {
  const dir = join(root(), 'lock');
  const until = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(dir);
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() > until)
        throw new Error(`the shared scratch checkout stayed locked for ${LOCK_TIMEOUT_MS} ms`);
      sleep(200);
    }
  }
}

/** The run's scratch checkout, created by the first caller. */
export function sharedCheckoutDir(): string {
  const release = lock();
  try {
    const record = join(root(), 'checkout');
    if (existsSync(record)) return readFileSync(record, 'utf8');
    const { dir } = scratchCheckout(`${inject('sharedCheckoutRoot')}/checkout-`);
    writeFileSync(record, dir);
    return dir;
  } finally {
    release();
  }
}

/** Runs `fn` (a command in the checkout) with no other command of the run in the checkout meanwhile. */
export function inCheckout<T>(fn: (dir: string) => T): T {
  const dir = sharedCheckoutDir();
  const release = lock();
  try {
    return fn(dir);
  } finally {
    release();
  }
}

/** The async form of inCheckout. */
export async function inCheckoutAsync<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = sharedCheckoutDir();
  const release = lock();
  try {
    return await fn(dir);
  } finally {
    release();
  }
}
