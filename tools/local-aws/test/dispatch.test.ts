import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// netkit_speed.py caches what moto's server recomputes on every request to route it (its service
// folder names) and to find the action (the response class's method names). check_dispatch.py
// compares both caches with moto's own functions, and proves a method the harness adds to a
// response class (or its base) after the first lookup is still found.
const CHECK = join(import.meta.dirname, '..', 'server', 'check_dispatch.py');
const PYTHON = process.env['PYTHON'] ?? 'python3';

describe('dispatch caches', () => {
  it("answer as moto's own routing and action lookup do, and see methods added later", () => {
    const run = spawnSync(PYTHON, [CHECK], { encoding: 'utf8', timeout: 60_000 });

    expect(run.stdout).toContain('dispatch caches ok');
    expect(run.status).toBe(0);
  }, 90_000);
});
