import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Emulator } from '@netkit/local-aws';

/** A Lambda entry point as the bundles export it. */
export type BundleHandler = (event: unknown, context: unknown) => Promise<unknown>;

export interface ScenarioContext {
  emulator: Emulator;
  /** Absolute path of the package's `dist` folder: the same bundles that deploy. */
  distDir: string;
  /**
   * Import `dist/<entry>.mjs` after applying `env` (plus the emulator's env) to process.env.
   * Each call gives a fresh module instance, so module-scope config and clients see `env`.
   */
  loadBundle<T = { handler: BundleHandler }>(entry: string, env: Record<string, string>): Promise<T>;
  /** One progress line. */
  step(message: string): void;
  /** Show a spinner while `work` runs; resolves with its value. */
  wait<T>(message: string, work: Promise<T>): Promise<T>;
  /** Test-suite settings: shorter delays, smaller fleets. */
  fast: boolean;
}

export interface ScenarioResult {
  ok: boolean;
  /** One line for the summary table. */
  summary: string;
  details?: Record<string, unknown>;
}

export interface Scenario {
  /** The package name, e.g. `eip-associator` (used by `--only`). */
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

let generation = 0;
let hookRegistered = false;

/** Query parameter that marks one instance of a bundle (and of the chunks it imports). */
export const INSTANCE_PARAM = 'netkit-instance';

/**
 * Module resolve hook (runs on Node's loader thread): a relative import from a
 * module loaded with `?netkit-instance=N` gets the same parameter, so the
 * chunks a split bundle imports (dist/chunks/*.mjs) are fresh instances too,
 * not shared with an earlier `loadBundle` of the same package.
 */
const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const parent = context.parentURL;
  if (!parent || !parent.startsWith('file:') || !result.url.startsWith('file:')) return result;
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return result;
  const instance = new URL(parent).searchParams.get('${INSTANCE_PARAM}');
  if (instance === null) return result;
  const url = new URL(result.url);
  url.searchParams.set('${INSTANCE_PARAM}', instance);
  return { ...result, url: url.href };
}`;

function registerInstanceHook(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`, import.meta.url);
}

/** Default `loadBundle`: env first, then a cache-busted dynamic import of the bundle file. */
export async function importBundle<T>(
  distDir: string,
  entry: string,
  env: Record<string, string>,
): Promise<T> {
  registerInstanceHook();
  Object.assign(process.env, env);
  const url = pathToFileURL(resolve(distDir, `${entry}.mjs`));
  url.searchParams.set(INSTANCE_PARAM, String(++generation));
  return (await import(url.href)) as T;
}

/**
 * `dist/<entry>.mjs` in a worker thread with its own copy of the environment (`env` over this
 * process's). Two functions in one process would share process.env, and the SDK reads the
 * credentials from it at a client's first call: a bundle loaded with importBundle before another
 * would sign with the other's key. In a worker each bundle keeps its own function's credentials,
 * as each Lambda function has. The handler's event, result and error (name, message) are cloned
 * across; the context is rebuilt there with the same remaining time and request id.
 */
export function isolatedBundle(
  distDir: string,
  entry: string,
  env: Record<string, string>,
): { handler: BundleHandler } {
  const file = resolve(distDir, `${entry}.mjs`);
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { pathToFileURL } = require('node:url');
     const loaded = import(pathToFileURL(${JSON.stringify(file)}).href);
     parentPort.on('message', async ({ id, event, remainingMs, context }) => {
       const deadline = Date.now() + remainingMs;
       try {
         const { handler } = await loaded;
         const value = await handler(event, { ...context, getRemainingTimeInMillis: () => deadline - Date.now() });
         parentPort.postMessage({ id, ok: true, value });
       } catch (error) {
         parentPort.postMessage({ id, ok: false, name: error?.name, message: error?.message ?? String(error) });
       }
     });`,
    { eval: true, env: { ...process.env, ...env } },
  );
  worker.unref();
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  worker.on(
    'message',
    (answer: { id: number; ok: boolean; value?: unknown; name?: string; message?: string }) => {
      const waiter = pending.get(answer.id);
      pending.delete(answer.id);
      if (pending.size === 0) worker.unref();
      if (answer.ok) waiter?.resolve(answer.value);
      else waiter?.reject(Object.assign(new Error(answer.message), { name: answer.name ?? 'Error' }));
    },
  );
  worker.on('error', (error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });
  return {
    handler: (event, context) => {
      const id = ++next;
      const ctx = (context ?? {}) as Record<string, unknown> & { getRemainingTimeInMillis?: () => number };
      const remainingMs = ctx.getRemainingTimeInMillis?.() ?? 60_000;
      const plain = Object.fromEntries(Object.entries(ctx).filter(([, v]) => typeof v !== 'function'));
      worker.ref();
      return new Promise((resolvePromise, reject) => {
        pending.set(id, { resolve: resolvePromise, reject });
        worker.postMessage({ id, event, remainingMs, context: plain });
      });
    },
  };
}
