import type { Emulator, FunctionIdentity } from '@netkit/local-aws';
import { useFunction } from '@netkit/local-aws/vitest';
import { TEMPLATE, TEMPLATE_PARAMETERS } from './fleet.ts';

export { TEMPLATE, TEMPLATE_PARAMETERS };

/** The function's identity under its template's policy (the handler's clients use it). */
export function useAssociatorFunction(emu: () => Emulator): () => FunctionIdentity {
  return useFunction(emu, { template: TEMPLATE, logicalId: 'Function', parameters: TEMPLATE_PARAMETERS });
}
