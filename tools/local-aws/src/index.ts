import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export const MOTO_INSTALL_COMMAND = "pip install 'moto[server]==5.2.1'";

export type ThrottleOption = boolean | { scale?: number; burst?: number };

export interface EmulatorOptions {
  /** Default us-east-1. */
  region?: string;
  /** How long a deleted NAT gateway stays `deleting`. Default 0 (deleted at once). */
  natDeleteDelayMs?: number;
  /**
   * EC2 / Auto Scaling token-bucket throttling. Off by default. `scale` multiplies the refill
   * rates, `burst` multiplies the bucket sizes (both default 1, i.e. the AWS figures).
   */
  throttle?: ThrottleOption;
  /**
   * EC2 eventual consistency: for this long after RunInstances, DescribeInstances does not see
   * the instance (InvalidInstanceID.NotFound by id) and DescribeNetworkInterfaces filtered by
   * attachment.instance-id omits its interfaces. Default 0 (off).
   */
  describeLagMs?: number;
  /**
   * EC2 eventual consistency after a mutation: for this long after AttachNetworkInterface,
   * DescribeNetworkInterfaces shows the interface as before the attach (available, no attachment),
   * though the attach has happened. Default 0 (off).
   */
  attachLagMs?: number;
  /**
   * The same after AssociateAddress: for this long DescribeAddresses shows the address
   * unassociated, though the association has happened. Default 0 (off).
   */
  associateLagMs?: number;
  /** Python interpreter with moto installed. Default env PYTHON or 'python3'. */
  python?: string;
  /** Port to listen on; default 0 (a free port). */
  port?: number;
}

export interface Fault {
  /** 'ec2' | 'autoscaling' | 'ecs' | 'cloudformation' ... (the SigV4 signing name) */
  service: string;
  /** e.g. 'AttachNetworkInterface', or '*' for every action of the service */
  action: string;
  /** Fail the nth matching call (1-based, counted from injection). Default 1. */
  nth?: number;
  /** How many consecutive calls from nth fail. Default 1. */
  times?: number;
  /** e.g. 'IncorrectInstanceState' (required unless `reset` is set) */
  code?: string;
  message?: string;
  /** Default 400. */
  status?: number;
  /**
   * Reset the connection instead of answering: `before` the call reaches AWS (nothing happens), or
   * `after` it did (the call takes effect, the caller never hears the answer).
   */
  reset?: 'before' | 'after';
  /** A faulted run: from the nth call on, each matching call fails with this probability (seeded). */
  rate?: number;
  /** Seed of `rate`'s draws. Default 1. */
  seed?: number;
}

export interface LifecycleActionSpec {
  groupName: string;
  hookName: string;
  instanceId: string;
  /** Generated uuid if absent. */
  token?: string;
  transition?: 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
  /**
   * The hook's HeartbeatTimeout: with no heartbeat or completion for this long the action ends with
   * `defaultResult` (a completion with `timedOut: true`) and later calls find no active action.
   * Unset: the action never times out.
   */
  heartbeatTimeoutMs?: number;
  /** The hook's DefaultResult (AWS's default for PutLifecycleHook: ABANDON). */
  defaultResult?: 'CONTINUE' | 'ABANDON';
}

export interface Completion {
  groupName: string;
  hookName: string;
  instanceId: string;
  token: string;
  result: 'CONTINUE' | 'ABANDON';
  /** True when the hook's heartbeat timeout ended the action with its DefaultResult. */
  timedOut?: boolean;
  at: string;
}

export interface Heartbeat {
  groupName: string;
  hookName: string;
  instanceId: string;
  token: string;
  at: string;
}

export interface CapacityFailureSpec {
  /** How many RunTask calls (that reach the emulator, i.e. not replays) fail. Default 1. */
  times?: number;
  /** Only RunTask calls for this cluster (name or ARN). Default: any cluster. */
  cluster?: string;
  /** `failures[].reason`; default the ECS text for unavailable Fargate capacity. */
  reason?: string;
}

export interface DeleteFailureSpec {
  /** Logical id of the resource whose deletion fails. */
  logicalId: string;
  /** How many DeleteStack attempts fail on it. Default 1. */
  times?: number;
  /** Only this stack (name). Default: any stack with a resource of that logical id. */
  stack?: string;
  /** The resource's ResourceStatusReason. */
  reason?: string;
}

/** An IAM policy document (identity-based). */
export interface PolicyDocument {
  Version?: string;
  Statement: unknown[] | Record<string, unknown>;
}

export interface FunctionRegistration {
  /** Default: a fresh random key. Never 'test' (the unrestricted set-up key). */
  accessKeyId?: string;
  /** The execution role; the principal is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION. */
  roleArn?: string;
  sessionName?: string;
  policies: PolicyDocument[];
}

export interface TemplateFunction {
  /** Path of the SAM template (infra/<pkg>/template.yaml or a scratch copy). */
  template: string;
  /** Logical id of the AWS::Serverless::Function. */
  logicalId: string;
  /** Template parameters (lists as arrays or comma-separated strings). */
  parameters?: Record<string, string | string[]>;
  /**
   * What `Ref` returns for a template resource (and `GetAtt X.Arn` derives), e.g.
   * `{ Cluster: 'my-cluster', TaskDefinition: 'arn:aws:ecs:...:task-definition/x:1' }`.
   * Default: the logical id.
   */
  physicalIds?: Record<string, string>;
}

export interface FunctionIdentity {
  accessKeyId: string;
  principalArn: string;
  roleArn: string;
  policies: PolicyDocument[];
  /** For `new EC2Client(identity.clientConfig)`: the function's credentials. */
  clientConfig: Emulator['clientConfig'];
  /** The emulator env with the function's credentials (for child processes). */
  env: Record<string, string>;
}

export interface Refusal {
  accessKeyId: string;
  principalArn: string;
  /** The IAM action refused, e.g. 'ec2:AttachNetworkInterface' or an implied 'iam:PassRole'. */
  action: string;
  /** The API call that was refused, e.g. 'ec2:AttachNetworkInterface'. */
  requestAction: string;
  resource: string;
  resourceType: string;
  decision: 'Deny' | 'ImplicitDeny' | 'Unmodelled';
}

export interface EmulatorSettings {
  natDeleteDelayMs?: number;
  throttle?: ThrottleOption;
  describeLagMs?: number;
  /** For this long after AttachNetworkInterface, DescribeNetworkInterfaces shows the interface unattached. */
  attachLagMs?: number;
  /** For this long after AssociateAddress, DescribeAddresses shows the address unassociated. */
  associateLagMs?: number;
}

export interface Emulator {
  /** http://127.0.0.1:PORT */
  url: string;
  region: string;
  /** AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_EC2_METADATA_DISABLED */
  env: Record<string, string>;
  /** For `new EC2Client(emu.clientConfig)`. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** moto state, counters, faults, lifecycle records, settings back to the start options. */
  reset(): Promise<void>;
  configure(settings: EmulatorSettings): Promise<void>;
  injectFault(fault: Fault): Promise<void>;
  /** Drops every injected fault (counters and state stay). */
  clearFaults(): Promise<void>;
  /** Per-action counter, keys like 'ec2:AttachNetworkInterface' (includes throttled and faulted calls). */
  calls(): Promise<Record<string, number>>;
  /** Clears calls() and throttled(). */
  resetCalls(): Promise<void>;
  /** How many calls per action got a throttling error. */
  throttled(): Promise<Record<string, number>>;
  ecs: {
    /**
     * The next RunTask call(s) answer HTTP 200 with no task and one `failures[]` entry (capacity),
     * as ECS does when Fargate capacity is unavailable. With a clientToken, that answer is what a
     * replay of the same request returns.
     */
    capacityFailure(spec?: CapacityFailureSpec): Promise<void>;
  };
  cloudformation: {
    /**
     * The next `times` DeleteStack attempts (of `stack`, or of any stack holding the resource) fail
     * to delete resource `logicalId`: it stays and the stack ends DELETE_FAILED, as CloudFormation
     * leaves it when a resource cannot be deleted.
     */
    deleteFailure(spec: DeleteFailureSpec): Promise<void>;
  };
  lifecycle: {
    /** Registers an active lifecycle action, returns its token. */
    begin(spec: LifecycleActionSpec): Promise<string>;
    completions(): Promise<Completion[]>;
    heartbeats(): Promise<Heartbeat[]>;
  };
  iam: {
    /** Calls signed with the returned key are evaluated against `policies` (see README, IAM). */
    register(spec: FunctionRegistration): Promise<FunctionIdentity>;
    /** The function's policies after the SAM transform (Policies, DLQ/destination, managed). */
    templatePolicies(spec: TemplateFunction): Promise<{ roleArn: string; policies: PolicyDocument[] }>;
    /** register() with the function's policies from its template. */
    registerFromTemplate(spec: TemplateFunction & { accessKeyId?: string }): Promise<FunctionIdentity>;
    /** Every call refused since the last reset()/takeRefusals(). */
    refusals(): Promise<Refusal[]>;
    /** refusals(), and clears them (a test that expects a refusal takes it). */
    takeRefusals(): Promise<Refusal[]>;
    /** The evaluator alone: one action and resource against policies, with a request context. */
    evaluate(
      policies: PolicyDocument[],
      action: string,
      resource: string,
      context?: Record<string, string | string[]>,
    ): Promise<{ decision: 'Allow' | 'Deny' | 'ImplicitDeny'; sid?: string }>;
  };
  stop(): Promise<void>;
}

const READY_PREFIX = 'NETKIT_MOTO_READY ';
/**
 * How long the server may take to start: moto's imports take ~13 s of CPU, and on a loaded 2-core machine the
 * start can pass 30 s. NETKIT_EMULATOR_START_TIMEOUT_MS overrides it.
 */
const START_TIMEOUT_MS = Number(process.env['NETKIT_EMULATOR_START_TIMEOUT_MS'] ?? '') || 120_000;
const STDERR_KEEP = 16_384;

/** Absolute path of the Python server script. */
export const serverScript = resolve(import.meta.dirname, '..', 'server', 'netkit_moto.py');

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
}

function missingMotoError(python: string, detail: string): Error {
  return new Error(
    `local-aws: moto is not importable with '${python}' (${detail.trim()}). ` +
      `Install it with: ${MOTO_INSTALL_COMMAND} (or set PYTHON / options.python to an interpreter that has it).`,
  );
}

interface Started {
  child: ChildProcess;
  url: string;
}

/** The server process; stdin stays an open pipe so that it exits when this process dies. */
function spawnServer(python: string, settings: EmulatorSettings, port: number): ChildProcess {
  return spawn(
    python,
    [
      serverScript,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--settings',
      JSON.stringify(settings),
      '--exit-on-stdin-eof',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  );
}

/** Why the server exited before it was ready: moto missing, or its own error output. */
function earlyExitError(python: string, code: number | null, signal: string | null, stderr: string): Error {
  if (code === 3 || /NETKIT_MOTO_MISSING|ModuleNotFoundError|No module named/.test(stderr)) {
    const reason = stderr.split('\n').find((l) => /NETKIT_MOTO_MISSING|No module named/.test(l)) ?? stderr;
    return missingMotoError(python, reason);
  }
  return new Error(`local-aws: moto server exited early (code ${code}, signal ${signal}).\n${stderr}`);
}

function launch(python: string, settings: EmulatorSettings, port: number): Promise<Started> {
  return new Promise<Started>((resolvePromise, rejectPromise) => {
    const child = spawnServer(python, settings, port);
    children.add(child);
    installExitHook();
    let stderr = '';
    let stdout = '';
    let settled = false;
    const settle = (error: Error | undefined, url?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        children.delete(child);
        rejectPromise(error);
      } else if (url !== undefined) {
        resolvePromise({ child, url });
      }
    };
    const timer = setTimeout(() => {
      settle(
        new Error(`local-aws: moto server did not become ready within ${START_TIMEOUT_MS} ms.\n${stderr}`),
      );
    }, START_TIMEOUT_MS);
    child.stdin?.on('error', () => undefined); // EPIPE after the child exits
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      if (settled) return; // keep draining the pipe after READY
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line !== undefined) settle(undefined, line.slice(READY_PREFIX.length).trim());
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT')
        settle(missingMotoError(python, `interpreter not found: ${error.message}`));
      else settle(new Error(`local-aws: cannot start '${python}': ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (settled) return;
      settle(earlyExitError(python, code, signal, stderr));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      resolvePromise();
      return;
    }
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      children.delete(child);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

/** The settings the server starts with (and `reset()` returns to): each option or its default. */
function startSettingsOf(options: EmulatorOptions): EmulatorSettings {
  return {
    natDeleteDelayMs: options.natDeleteDelayMs ?? 0,
    throttle: options.throttle ?? false,
    describeLagMs: options.describeLagMs ?? 0,
    attachLagMs: options.attachLagMs ?? 0,
    associateLagMs: options.associateLagMs ?? 0,
  };
}

/** Calls the server's /_netkit control API. */
function controlOf(url: string): Control {
  return async <T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await fetch(`${url}/_netkit${route}`, init);
    const text = await response.text();
    if (!response.ok)
      throw new Error(`local-aws: ${method} /_netkit${route} failed (${response.status}): ${text}`);
    return JSON.parse(text) as T;
  };
}

/** The environment an AWS SDK or CLI needs to talk to the emulator. */
function awsEnvOf(url: string, region: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: url,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const region = options.region ?? 'us-east-1';
  const python = options.python ?? process.env['PYTHON'] ?? 'python3';
  const { child, url } = await launch(python, startSettingsOf(options), options.port ?? 0);

  const control = controlOf(url);
  const env = awsEnvOf(url, region);
  let stopped: Promise<void> | undefined;

  return {
    url,
    region,
    env,
    clientConfig: { endpoint: url, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
    async reset() {
      await control('POST', '/reset', {});
    },
    async configure(settings) {
      await control('POST', '/configure', settings);
    },
    async injectFault(fault) {
      await control('POST', '/faults', fault);
    },
    async clearFaults() {
      await control('POST', '/faults/clear', {});
    },
    calls: () => control<Record<string, number>>('GET', '/calls'),
    async resetCalls() {
      await control('POST', '/calls/reset', {});
    },
    throttled: () => control<Record<string, number>>('GET', '/throttled'),
    ecs: {
      async capacityFailure(spec = {}) {
        await control('POST', '/ecs/capacity-failure', spec);
      },
    },
    cloudformation: {
      async deleteFailure(spec) {
        await control('POST', '/cloudformation/delete-failure', spec);
      },
    },
    lifecycle: {
      async begin(spec) {
        const { token } = await control<{ token: string }>('POST', '/lifecycle/begin', spec);
        return token;
      },
      completions: () => control<Completion[]>('GET', '/lifecycle/completions'),
      heartbeats: () => control<Heartbeat[]>('GET', '/lifecycle/heartbeats'),
    },
    iam: iamApi(control, { url, region, env }),
    stop() {
      stopped ??= stopChild(child);
      return stopped;
    },
  };
}

type Control = <T>(method: 'GET' | 'POST', route: string, body?: unknown) => Promise<T>;

/** The `iam` member: function registrations (one access key each), refusals and the evaluator. */
function iamApi(
  control: Control,
  { url, region, env }: { url: string; region: string; env: Record<string, string> },
): Emulator['iam'] {
  const register = async (spec: FunctionRegistration): Promise<FunctionIdentity> => {
    const accessKeyId = spec.accessKeyId ?? `NKFN${randomBytes(8).toString('hex').toUpperCase()}`;
    const { principalArn } = await control<{ principalArn: string }>('POST', '/iam/functions', {
      ...spec,
      accessKeyId,
    });
    const credentials = { accessKeyId, secretAccessKey: 'test' };
    return {
      accessKeyId,
      principalArn,
      roleArn: spec.roleArn ?? 'arn:aws:iam::123456789012:role/netkit-function',
      policies: spec.policies,
      clientConfig: { endpoint: url, region, credentials },
      env: { ...env, AWS_ACCESS_KEY_ID: accessKeyId },
    };
  };
  const templatePolicies = async (spec: TemplateFunction) =>
    control<{ roleArn: string; policies: PolicyDocument[] }>('POST', '/iam/template-policies', {
      template: await readFile(spec.template, 'utf8'),
      logicalId: spec.logicalId,
      parameters: spec.parameters ?? {},
      physicalIds: spec.physicalIds ?? {},
      region,
    });

  return {
    register,
    templatePolicies,
    async registerFromTemplate(spec) {
      const { roleArn, policies } = await templatePolicies(spec);
      return register({
        ...(spec.accessKeyId === undefined ? {} : { accessKeyId: spec.accessKeyId }),
        roleArn,
        sessionName: spec.logicalId,
        policies,
      });
    },
    refusals: () => control<Refusal[]>('GET', '/iam/refusals'),
    takeRefusals: () => control<Refusal[]>('POST', '/iam/refusals/take', {}),
    evaluate: (policies, action, resource, context = {}) =>
      control('POST', '/iam/evaluate', { policies, action, resource, context }),
  };
}
