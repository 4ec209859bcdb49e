import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import {
  type Emulator,
  type EmulatorOptions,
  type FunctionIdentity,
  startEmulator,
  type TemplateFunction,
} from './index.ts';

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
  // The least-privilege report: a call refused under a function's policy (or outside the IAM model)
  // fails the test that made it, unless the test expected it and took it with iam.takeRefusals();
  // refusals made in set-up hooks are checked before reset() clears them.
  const expectNoRefusals = async () => {
    const refused = (await emulator?.iam.refusals()) ?? [];
    if (refused.length > 0) {
      const lines = refused.map((r) => `${r.principalArn}: ${r.action} on ${r.resource} (${r.decision})`);
      throw new Error(
        `local-aws: ${refused.length} call(s) refused under the function policies:\n${lines.join('\n')}`,
      );
    }
  };
  beforeEach(async () => {
    await expectNoRefusals();
    await emulator?.reset();
  });
  afterEach(expectNoRefusals);
  return () => {
    if (emulator === undefined)
      throw new Error('local-aws: the emulator is not running (use it inside tests/hooks)');
    return emulator;
  };
}

/**
 * A Lambda function's identity in the emulator: its policies from its SAM template (after the SAM
 * transform), registered in beforeAll (registrations survive reset()). Build the code under test's
 * clients with `fn().clientConfig` (or pass `fn().env` to a child process); set-up keeps
 * `emu().clientConfig` (the unrestricted `test` key). Call after useEmulator():
 *
 *   const emu = useEmulator();
 *   const fn = useFunction(emu, { template: '.../infra/x/template.yaml', logicalId: 'Function', parameters });
 */
export function useFunction(emulator: () => Emulator, spec: TemplateFunction): () => FunctionIdentity {
  let identity: FunctionIdentity | undefined;
  beforeAll(async () => {
    identity = await emulator().iam.registerFromTemplate(spec);
  }, 60_000); // the first registration imports the SAM translator
  return () => {
    if (identity === undefined)
      throw new Error('local-aws: the function is not registered (use it inside tests/hooks)');
    return identity;
  };
}
