import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// netkit_serialize.py memoises moto's response serializer and writes its XML without xmltodict,
// so large Describe answers (a group of 100 instances) stop dominating burst benchmarks. It must
// not change one byte: check_serialize.py makes each Describe the packages use with moto's own
// serializer and with the fast one, in-process, and compares the bodies.
const CHECK = join(import.meta.dirname, '..', 'server', 'check_serialize.py');
const PYTHON = process.env['PYTHON'] ?? 'python3';

function runCheck(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [CHECK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('fast response serializer', () => {
  it('answers every Describe the packages use with the same bytes as moto, and the comparison catches defects', async () => {
    const { code, output } = await runCheck(['--self-test']);
    expect(output).toContain('all responses identical');
    const compared = output.split('\n').filter((line) => line.startsWith('same '));
    expect(compared.length).toBeGreaterThanOrEqual(20);
    expect(output).toMatch(/same DescribeInstances \(\d{4,} bytes\)/);
    // A getter that drops a field and a writer that escapes less must each show as a difference.
    expect(output).toContain("self-test ok: 'getter drops PrivateIpAddress'");
    expect(output).toContain("self-test ok: 'writer leaves > unescaped'");
    expect(code).toBe(0);
  }, 120_000);
});
