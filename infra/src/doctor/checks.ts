// The doctor's rules: pure functions from what was read (a Snapshot) to findings. Each finding names
// the setting, what it is, what it should be and how to fix it. No AWS call here.

/** Packages the doctor checks against an Auto Scaling group, with the logical id of the hook function. */
export const GROUP_PACKAGES: Readonly<Record<string, { functionId: string }>> = {
  'eip-associator': { functionId: 'Function' },
  'eni-attach': { functionId: 'LaunchFunction' },
  'eni-pool-agent': { functionId: 'Function' },
};

/** Seconds a launch hook's HeartbeatTimeout must exceed the function's wait by (completion, retries' start). */
export const HEARTBEAT_MARGIN_SECONDS = 30;

export interface Hook {
  name: string;
  transition: string;
  defaultResult: string;
  heartbeatTimeout: number;
}

export interface Snapshot {
  packageName: string;
  groupName: string;
  group: {
    maxSize: number;
    availabilityZones: string[];
    /** How the group launches: a launch template (with its metadata tags option) or a launch configuration. */
    launch:
      | { kind: 'launch-template'; label: string; instanceMetadataTags?: string }
      | { kind: 'launch-configuration'; label: string }
      | { kind: 'unknown'; label: string };
  };
  hooks: Hook[];
  stack:
    | { found: false; name: string }
    | { found: true; name: string; status: string; parameters: Record<string, string> };
  /** The package's hook function as deployed (undefined when the stack or the function is not readable). */
  /** `fromTemplate`: no stack is deployed; the template's function with its parameter defaults. */
  fn?: { name: string; timeout: number; env: Record<string, string>; fromTemplate?: boolean };
  /** Pool members by Availability Zone (eni-pool-agent) or region-wide under '*' (eip-associator). */
  pool?: { byAz: Record<string, number>; withHostnameTag: number };
}

export interface DoctorFinding {
  /** Stable id of the rule, e.g. launch-hook-default-result. */
  check: string;
  /** What the finding is about (hook, stack, pool, launch template). */
  resource: string;
  setting: string;
  actual: string;
  expected: string;
  fix: string;
}

const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

function num(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** How long the function may wait before it completes the launch action, in seconds. */
export function functionWaitSeconds(
  pkg: string,
  fn: { timeout: number; env: Record<string, string> },
): number {
  const env = fn.env;
  if (pkg === 'eip-associator') {
    return num(env['ASSOCIATE_TIMEOUT_SECONDS']) ?? fn.timeout - (num(env['DEADLINE_MARGIN_SECONDS']) ?? 10);
  }
  if (pkg === 'eni-pool-agent') return num(env['ATTACH_TIMEOUT_SECONDS']) ?? 120;
  return fn.timeout;
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The AZ -> subnet maps eni-attach uses: SUBNET_MAP, or one per entry of ATTACHMENTS. */
export function subnetMapsOf(env: Record<string, string>): { where: string; map: Record<string, unknown> }[] {
  const attachments = env['ATTACHMENTS'];
  if (attachments !== undefined && attachments.trim() !== '') {
    try {
      const list: unknown = JSON.parse(attachments);
      if (!Array.isArray(list)) return [];
      return list.flatMap((a, i) => {
        const map =
          typeof a === 'object' && a !== null ? (a as Record<string, unknown>)['subnetMap'] : undefined;
        return typeof map === 'object' && map !== null
          ? [{ where: `ATTACHMENTS[${i}].subnetMap`, map: map as Record<string, unknown> }]
          : [];
      });
    } catch {
      return [];
    }
  }
  const map = parseJsonObject(env['SUBNET_MAP']);
  return map === undefined ? [] : [{ where: 'SUBNET_MAP', map }];
}

export function diagnose(s: Snapshot): DoctorFinding[] {
  return [
    ...checkStack(s),
    ...checkFunctionGroup(s),
    ...checkLaunchHook(s),
    ...checkTerminateHook(s),
    ...checkEipPool(s),
    ...checkEniPool(s),
    ...checkSubnetMaps(s),
  ];
}

/** The stack exists and is in a *_COMPLETE state (not a rollback). */
function checkStack(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const pkg = s.packageName;
  if (!s.stack.found) {
    findings.push({
      check: 'stack-missing',
      resource: `stack ${s.stack.name}`,
      setting: 'deployed stack',
      actual: 'not found',
      expected: `the ${pkg} stack deployed in this account and region`,
      fix: `pnpm run deploy ${pkg} (or pass --stack <name> / --env <env> to name the deployed stack)`,
    });
  } else if (!/_COMPLETE$/.test(s.stack.status) || /ROLLBACK/.test(s.stack.status)) {
    findings.push({
      check: 'stack-status',
      resource: `stack ${s.stack.name}`,
      setting: 'StackStatus',
      actual: s.stack.status,
      expected: 'CREATE_COMPLETE or UPDATE_COMPLETE',
      fix: `read the stack events (aws cloudformation describe-stack-events --stack-name ${s.stack.name}) and redeploy`,
    });
  }
  return findings;
}

/** The function serves this group. */
function checkFunctionGroup(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const fn = s.fn;
  if (fn !== undefined) {
    const handled = fn.env['AUTO_SCALING_GROUP_NAME'];
    if (handled !== undefined && handled !== s.groupName) {
      findings.push({
        check: 'function-group',
        resource: `function ${fn.name}`,
        setting: 'AUTO_SCALING_GROUP_NAME (template parameter AutoScalingGroupName)',
        actual: handled,
        expected: s.groupName,
        fix: `redeploy with AutoScalingGroupName=${s.groupName}, or run doctor on the stack of this group`,
      });
    }
  }
  return findings;
}

/** The launch hook exists, defaults to ABANDON and outlasts the function's wait. */
function checkLaunchHook(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const pkg = s.packageName;
  const stackParams = s.stack.found ? s.stack.parameters : {};
  const fn = s.fn;
  // --- the launch hook ---
  const hookNames = (fn?.env['LIFECYCLE_HOOK_NAMES'] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const launchName = stackParams['LaunchHookName'] ?? hookNames[0];
  const launchHooks = s.hooks.filter((h) => h.transition === LAUNCHING);
  const launch = launchName === undefined ? launchHooks[0] : s.hooks.find((h) => h.name === launchName);
  if (launch === undefined || launch.transition !== LAUNCHING) {
    findings.push({
      check: 'launch-hook-missing',
      resource: `group ${s.groupName}`,
      setting: `lifecycle hook ${launchName ?? '(launch)'} (EC2_INSTANCE_LAUNCHING)`,
      actual:
        launch === undefined
          ? `missing (hooks: ${s.hooks.map((h) => h.name).join(', ') || 'none'})`
          : `transition ${launch.transition}`,
      expected: 'an EC2_INSTANCE_LAUNCHING hook with DefaultResult ABANDON',
      fix: `add it to the group's LifecycleHookSpecificationList: LifecycleHookName ${launchName ?? '<name>'}, LifecycleTransition autoscaling:EC2_INSTANCE_LAUNCHING, DefaultResult ABANDON`,
    });
  } else {
    if (launch.defaultResult !== 'ABANDON') {
      findings.push({
        check: 'launch-hook-default-result',
        resource: `lifecycle hook ${launch.name}`,
        setting: 'DefaultResult',
        actual: launch.defaultResult,
        expected: 'ABANDON',
        fix: `set DefaultResult: ABANDON on hook ${launch.name}; with CONTINUE an instance whose event was lost goes into service without what ${pkg} gives it`,
      });
    }
    if (fn !== undefined) {
      const wait = functionWaitSeconds(pkg, fn);
      const needed = wait + HEARTBEAT_MARGIN_SECONDS;
      if (launch.heartbeatTimeout < needed) {
        findings.push({
          check: 'launch-hook-heartbeat-timeout',
          resource: `lifecycle hook ${launch.name}`,
          setting: 'HeartbeatTimeout',
          actual: `${launch.heartbeatTimeout} s`,
          expected: `at least ${needed} s (the function waits up to ${wait} s, plus ${HEARTBEAT_MARGIN_SECONDS} s)`,
          fix: `raise HeartbeatTimeout on hook ${launch.name} to ${needed} or more (and the template's hook timeout parameter with it), or shorten the function's wait`,
        });
      }
    }
  }
  return findings;
}

/** The terminate hook, when the stack names one, is a terminating hook defaulting to CONTINUE. */
function checkTerminateHook(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const stackParams = s.stack.found ? s.stack.parameters : {};
  const terminateName = stackParams['TerminateHookName'];
  if (terminateName !== undefined && terminateName !== '') {
    const terminate = s.hooks.find((h) => h.name === terminateName);
    if (terminate !== undefined && terminate.transition !== TERMINATING) {
      findings.push({
        check: 'terminate-hook-transition',
        resource: `lifecycle hook ${terminate.name}`,
        setting: 'LifecycleTransition',
        actual: terminate.transition,
        expected: TERMINATING,
        fix: `recreate hook ${terminate.name} with LifecycleTransition ${TERMINATING}`,
      });
    } else if (terminate !== undefined && terminate.defaultResult !== 'CONTINUE') {
      findings.push({
        check: 'terminate-hook-default-result',
        resource: `lifecycle hook ${terminate.name}`,
        setting: 'DefaultResult',
        actual: terminate.defaultResult,
        expected: 'CONTINUE',
        fix: `set DefaultResult: CONTINUE on hook ${terminate.name} (a terminating instance is going away either way)`,
      });
    }
  }
  return findings;
}

/** eip-associator: the EIP pool holds at least MaxSize addresses. */
function checkEipPool(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const pkg = s.packageName;
  const fn = s.fn;
  // --- what the package depends on ---
  if (pkg === 'eip-associator' && s.pool !== undefined) {
    const total = s.pool.byAz['*'] ?? 0;
    if (total < s.group.maxSize) {
      findings.push({
        check: 'pool-smaller-than-group',
        resource: `EIP pool ${fn?.env['EIP_POOL_TAGS'] ?? ''}`.trim(),
        setting: 'Elastic IPs in the pool',
        actual: `${total}`,
        expected: `at least the group's MaxSize (${s.group.maxSize})`,
        fix: `allocate ${s.group.maxSize - total} more EIP(s) (domain vpc) with the pool tags, or lower MaxSize`,
      });
    }
  }
  return findings;
}

/** eni-pool-agent: every AZ has MaxSize pool ENIs; hostname tags need instance metadata tags. */
function checkEniPool(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const pkg = s.packageName;
  const fn = s.fn;
  if (pkg === 'eni-pool-agent' && s.pool !== undefined) {
    for (const az of s.group.availabilityZones) {
      const count = s.pool.byAz[az] ?? 0;
      if (count < s.group.maxSize) {
        findings.push({
          check: 'pool-smaller-than-group',
          resource: `ENI pool ${fn?.env['ENI_POOL_TAGS'] ?? ''} in ${az}`,
          setting: `pool ENIs in ${az}`,
          actual: `${count}`,
          expected: `at least the group's MaxSize (${s.group.maxSize}): every launch may land in ${az}`,
          fix: `create ${s.group.maxSize - count} more pool ENI(s) in ${az} (node pool.mjs create ...), or lower MaxSize`,
        });
      }
    }
    if (s.pool.withHostnameTag > 0) {
      const launchSpec = s.group.launch;
      const tags = launchSpec.kind === 'launch-template' ? launchSpec.instanceMetadataTags : undefined;
      if (tags !== 'enabled') {
        findings.push({
          check: 'instance-metadata-tags',
          resource: launchSpec.label,
          setting: 'MetadataOptions.InstanceMetadataTags',
          actual:
            launchSpec.kind === 'launch-configuration'
              ? 'launch configuration (cannot serve instance tags)'
              : (tags ?? 'disabled (default)'),
          expected: `enabled: pool ENIs carry the hostname tag ${fn?.env['HOSTNAME_TAG'] ?? ''} and the instance reads it from instance metadata`,
          fix: 'set MetadataOptions: { InstanceMetadataTags: enabled } in the launch template and use that version in the group',
        });
      }
    }
  }
  return findings;
}

/** eni-attach: the subnet map covers every AZ of the group. */
function checkSubnetMaps(s: Snapshot): DoctorFinding[] {
  const findings: DoctorFinding[] = [];
  const pkg = s.packageName;
  const fn = s.fn;
  if (pkg === 'eni-attach' && fn !== undefined && fn.fromTemplate !== true) {
    const maps = subnetMapsOf(fn.env);
    if (maps.length === 0) {
      findings.push({
        check: 'subnet-map-unreadable',
        resource: `function ${fn.name}`,
        setting: 'SUBNET_MAP / ATTACHMENTS',
        actual: 'neither holds a JSON map of Availability Zone -> subnet',
        expected: 'a JSON object {"<az>":"subnet-..."} covering every AZ of the group',
        fix: 'redeploy with SubnetMap (or Attachments) set',
      });
    }
    for (const { where, map } of maps) {
      const missing = s.group.availabilityZones.filter((az) => !(az in map));
      if (missing.length > 0) {
        findings.push({
          check: 'subnet-map-missing-az',
          resource: `function ${fn.name}`,
          setting: where,
          actual: `no subnet for ${missing.join(', ')} (has ${Object.keys(map).join(', ') || 'none'})`,
          expected: `a subnet for every AZ of the group: ${s.group.availabilityZones.join(', ')}`,
          fix: `add ${missing.map((az) => `"${az}":"subnet-..."`).join(', ')} to ${where} and the subnet(s) to SubnetIds, then redeploy`,
        });
      }
    }
  }
  return findings;
}

export function formatFindings(findings: readonly DoctorFinding[]): string {
  if (findings.length === 0) return 'No findings.';
  return findings
    .map(
      (f) =>
        `[${f.check}] ${f.resource}\n  ${f.setting}: ${f.actual}\n  should be: ${f.expected}\n  fix: ${f.fix}`,
    )
    .join('\n');
}
