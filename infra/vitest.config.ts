import { packageProject } from '../vitest.shared.ts';

export default packageProject(import.meta.dirname, {
  // The scratch checkout the end-to-end tests share (test/support/shared-checkout.ts).
  globalSetup: ['test/support/shared-checkout-setup.ts'],
});
