import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from './index.ts';

/**
 * One emulator (one moto_server process) per test file: started in beforeAll, reset before
 * each test, stopped in afterAll. Call at the top level of a test file:
 *
 *   const emu = useEmulator();
 *   it('...', async () => { const ec2 = new EC2Client(emu().clientConfig); ... });
 */
export function useEmulator(options?: EmulatorOptions): () => Emulator {
  let emulator: Emulator | undefined;
  beforeAll(async () => {
    emulator = await startEmulator(options);
  }, 130_000); // startEmulator gives up after 120 s
  afterAll(async () => {
    await emulator?.stop();
    emulator = undefined;
  });
  beforeEach(async () => {
    await emulator?.reset();
  });
  // The least-privilege report: a call refused under a function's policy fails the test that made
  // it, unless the test expected it and took it with iam.takeRefusals().
  afterEach(async () => {
    const refused = (await emulator?.iam.refusals()) ?? [];
    if (refused.length > 0) {
      const lines = refused.map((r) => `${r.principalArn}: ${r.action} on ${r.resource} (${r.decision})`);
      throw new Error(`local-aws: ${refused.length} call(s) refused under the function policies:\n${lines.join('\n')}`);
    }
  });
  return () => {
    if (emulator === undefined)
      throw new Error('local-aws: the emulator is not running (use it inside tests/hooks)');
    return emulator;
  };
}
