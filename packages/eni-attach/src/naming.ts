import { createHash } from 'node:crypto';
import type { NetworkInterface } from '@aws-sdk/client-ec2';

export const SERVICE_NAME = 'eni-attach';

/** Tags this package writes on every ENI it creates. The IAM policy keys on MANAGED_BY. */
export const TAG = {
  managedBy: 'netkit:managed-by',
  instanceId: 'netkit:instance-id',
  deviceIndex: 'netkit:device-index',
  group: 'netkit:auto-scaling-group',
  hook: 'netkit:lifecycle-hook',
  createdAt: 'netkit:created-at',
} as const;

export const MANAGED_BY = SERVICE_NAME;

export function tagValue(eni: NetworkInterface, key: string): string | undefined {
  return eni.TagSet?.find((t) => t.Key === key)?.Value;
}

/** Deterministic, so a retried create returns the same ENI; EC2 allows 64 characters. */
export function clientToken(instanceId: string, hookName: string, deviceIndex: number): string {
  const digest = createHash('sha256').update(`${instanceId}\n${hookName}\n${deviceIndex}`).digest('hex');
  return `eni-attach-${digest.slice(0, 48)}`;
}

export function eniDescription(instanceId: string, deviceIndex: number, groupName: string): string {
  return `eni-attach: ${instanceId} device ${deviceIndex} (${groupName})`.slice(0, 255);
}
