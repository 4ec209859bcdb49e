import { execFile, spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';

// test/setup/unit.ts guards every file under test/unit, this one included.
describe('the unit layer has no network and no processes', () => {
  it('refuses a connection to a non-loopback address, naming it', async () => {
    // Act
    const attempt = new Promise((resolve, reject) => {
      const req = request({ host: '192.0.2.10', port: 443, timeout: 60_000 }, resolve);
      req.on('error', reject);
      req.end();
    });
    // Assess
    await expect(attempt).rejects.toThrow(
      /unit layer .* must not touch the network: connect to 192\.0\.2\.10/,
    );
  });

  it('refuses to start a process, so no emulator can start', () => {
    expect(() => spawn('python3', ['-c', 'print(1)'])).toThrow(/must not start a process \(spawn python3\)/);
    expect(() => execFile('true')).toThrow(/must not start a process/);
  });

  it('still serves loopback, for in-process fakes', async () => {
    // Prepare
    const server = createServer((_, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // Act
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    server.close();
    // Assess
    expect(body).toBe('ok');
  });
});
