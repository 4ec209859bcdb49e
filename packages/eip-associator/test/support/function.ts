import { resolve } from 'node:path';
import type { Emulator, FunctionIdentity } from '@netkit/local-aws';
import { useFunction } from '@netkit/local-aws/vitest';
import { GROUP, HOOK, POOL_NAME, TERMINATE_HOOK } from './fleet.ts';

export const TEMPLATE = resolve(import.meta.dirname, '../../../../infra/eip-associator/template.yaml');

/** The template's parameters for the fleet the integration tests build. */
export const TEMPLATE_PARAMETERS = {
  AutoScalingGroupName: GROUP,
  LaunchHookName: HOOK,
  TerminateHookName: TERMINATE_HOOK,
  EipPoolName: POOL_NAME,
};

/** The function's identity under its template's policy (the handler's clients use it). */
export function useAssociatorFunction(emu: () => Emulator): () => FunctionIdentity {
  return useFunction(emu, { template: TEMPLATE, logicalId: 'Function', parameters: TEMPLATE_PARAMETERS });
}
