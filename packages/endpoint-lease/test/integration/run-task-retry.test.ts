/**
 * The built acquire bundle (dist/acquire.mjs), run the way Lambda runs it, against the emulator:
 * a RunTask that fails (capacity in failures[], or tasks stopped because the stack changed),
 * then the Lambda retry of the same invocation (same request id) starts the task.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { DescribeTasksCommand, ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { ensureBuilt } from '@netkit/demo/testing';
import { useEmulator } from '@netkit/local-aws/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { startedByFor } from '../../src/lease.ts';
import { STOP_REASON } from '../../src/run-task.ts';
import { buildWorld, type World } from '../support/world.ts';

const emu = useEmulator();
const packageDir = resolve(import.meta.dirname, '../..');
let distDir: string;

beforeAll(() => {
  distDir = ensureBuilt(packageDir, ['acquire', 'reaper']);
});

interface Invocation {
  ok: boolean;
  result?: { status: string; taskArns: string[]; adopted: boolean };
  error?: { name: string; message: string };
}

/** One Lambda invocation of dist/acquire.mjs in a fresh Node process (a cold container). */
function invoke(world: World, requestId: string, event: unknown = {}): Promise<Invocation> {
  const driver = `
    const { handler } = await import(${JSON.stringify(join(distDir, 'acquire.mjs'))});
    const deadline = Date.now() + 120000;
    const context = { awsRequestId: ${JSON.stringify(requestId)}, getRemainingTimeInMillis: () => deadline - Date.now() };
    let line;
    try { line = { ok: true, result: await handler(${JSON.stringify(event)}, context) }; }
    catch (e) { line = { ok: false, error: { name: e.name, message: e.message } }; }
    process.stdout.write('\\nRESULT ' + JSON.stringify(line) + '\\n');
  `;
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', driver],
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...world.functions.acquire.env,
          ...world.env,
          POWERTOOLS_LOG_LEVEL: 'ERROR',
        },
      },
      (error, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (line === undefined) {
          reject(new Error(`acquire bundle produced no result (${error?.message ?? ''}): ${stderr}`));
          return;
        }
        resolvePromise(JSON.parse(line.slice('RESULT '.length)) as Invocation);
      },
    );
  });
}

async function runningTasks(world: World) {
  const out = await world.clients.ecs.send(
    new ListTasksCommand({
      cluster: world.config.clusterArn,
      startedBy: startedByFor(world.config.stackName),
    }),
  );
  return out.taskArns ?? [];
}

describe('acquire bundle: a failed start, then the Lambda retry of the same invocation', () => {
  it('starts the task on the retry after a capacity failure in failures[]', async () => {
    const world = await buildWorld(emu());
    await emu().ecs.capacityFailure({ cluster: world.config.clusterArn });

    const first = await invoke(world, 'req-capacity');
    expect(first.ok).toBe(false);
    expect(first.error?.name).toBe('TaskStartError');
    expect(first.error?.message).toMatch(/started 0 of 1 tasks: Capacity is unavailable/);
    expect(await runningTasks(world)).toEqual([]);

    const retry = await invoke(world, 'req-capacity');
    expect(retry.ok).toBe(true);
    expect(retry.result).toMatchObject({ status: 'done', action: 'started', adopted: false });
    expect(retry.result?.taskArns).toHaveLength(1);
    expect(await runningTasks(world)).toEqual(retry.result?.taskArns);
    // The failed token was not reused to replay the failure: RunTask saw the token twice (the
    // retry's ConflictException on it, then the next token).
    expect((await emu().calls())['ecs:RunTask']).toBe(3);

    // A third delivery of the same request adopts the running task and starts nothing.
    const again = await invoke(world, 'req-capacity');
    expect(again.result).toMatchObject({
      status: 'already-done',
      action: 'started',
      adopted: true,
      taskArns: retry.result?.taskArns,
    });
    expect(await runningTasks(world)).toHaveLength(1);
  }, 180_000);

  it('starts the task on the retry after the first start was stopped (a stack change under it)', async () => {
    const world = await buildWorld(emu());
    const first = await invoke(world, 'req-stopped');
    expect(first.ok).toBe(true);
    // What acquire does when the stack changed under the started tasks: stop them, fail the invocation.
    for (const task of first.result?.taskArns ?? []) {
      await world.clients.ecs.send(
        new StopTaskCommand({
          cluster: world.config.clusterArn,
          task,
          reason: STOP_REASON,
        }),
      );
    }
    expect(await runningTasks(world)).toEqual([]);

    const retry = await invoke(world, 'req-stopped');
    expect(retry.ok).toBe(true);
    expect(retry.result?.adopted).toBe(false);
    expect(retry.result?.taskArns).not.toEqual(first.result?.taskArns);
    const described = await world.clients.ecs.send(
      new DescribeTasksCommand({ cluster: world.config.clusterArn, tasks: retry.result?.taskArns ?? [] }),
    );
    expect(described.tasks?.map((t) => t.desiredStatus)).toEqual(['RUNNING']);
  }, 180_000);
});
