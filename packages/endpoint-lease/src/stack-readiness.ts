/** The intent is read after the lease is written, the stack trusted only then (README "Lease safety"). */
import { DeadlineExceededError } from '@netkit/aws-core/errors';
import { type Deadline, pollUntil } from '@netkit/aws-core/retry';
import type { Config } from './config.ts';
import type { AcquireHandlerDeps } from './create-acquire-handler.ts';
import { checkEndpointPreconditions, createStack } from './create-stack.ts';
import { EndpointStackFailedError } from './errors.ts';
import { readRecords, writeLease } from './lease.ts';
import { decide, stackPhase } from './policy.ts';
import { removeStack } from './remove-stack.ts';
import { describeStack, endpointsAvailable, type StackView } from './stack.ts';

const MAX_STACK_REPLACEMENTS = 2;

/** run(): hold the lease, then create, replace (bounded) or wait for the stack until it is ready. */
export class StackReadiness {
  constructor(
    private readonly deps: AcquireHandlerDeps,
    private readonly config: Config,
    private readonly deadline: Deadline,
    private readonly requestId: string,
    private checked: boolean,
  ) {}

  /** Whether this invocation created the stack. */
  created = false;
  leaseUntil = 0;
  private replacements = 0;
  private creates = 0;

  private async holdLease() {
    const { deps, config } = this;
    this.leaseUntil = deps.clock.now() + config.leaseMs;
    await writeLease(deps.ec2, config.vpcId, config.stackName, this.leaseUntil);
    await this.poll('the reaper to finish its delete decision', 500, 5_000, async () => {
      const { intentExpiresAt } = await readRecords(deps.ec2, config.vpcId, config.stackName);
      if (intentExpiresAt === undefined || intentExpiresAt <= deps.clock.now()) return true;
      deps.logger.info('Reaper is deciding on a delete; waiting', { intentExpiresAt });
      return undefined;
    });
  }

  async run(): Promise<StackView> {
    await this.holdLease();
    for (;;) {
      if (this.deadline.expired())
        throw new DeadlineExceededError('Timed out waiting for the endpoint stack');
      const stack = await describeStack(this.deps.cfn, this.config.stackName);
      const state = { stack, leaseUntil: this.leaseUntil, activeTasks: 0, demand: true };
      const action = decide(state, this.deps.clock.now(), this.config);
      if (action.kind === 'create') await this.create();
      else if (action.kind === 'delete') await this.replace(stack as StackView);
      else if (action.kind === 'wait') await this.waitToLeave(stack?.status);
      else if (action.kind === 'use' && (await this.use(stack as StackView))) return stack as StackView;
    }
  }

  private async create(): Promise<void> {
    const { stackName } = this.config;
    if (this.creates > MAX_STACK_REPLACEMENTS)
      throw new EndpointStackFailedError(
        `Endpoint stack ${stackName} was created ${this.creates} times, never ready`,
      );
    this.creates++;
    if (!this.checked) await checkEndpointPreconditions(this.deps.ec2, this.config);
    this.checked = true;
    const token = `${this.requestId}-${this.creates}`.slice(0, 128);
    const mine = await createStack(this.deps.cfn, this.config, token);
    this.created ||= mine;
    const message = mine
      ? 'Creating endpoint stack'
      : 'Endpoint stack is being created by another invocation';
    this.deps.logger.info(message, { stackName });
  }

  private async replace(stack: StackView): Promise<void> {
    const { stackName } = this.config;
    if (this.replacements >= MAX_STACK_REPLACEMENTS)
      throw new EndpointStackFailedError(
        `Endpoint stack ${stackName} is in ${stack.status} after ${this.replacements} replacements`,
      );
    this.replacements++;
    this.deps.logger.warn('Replacing a failed endpoint stack', { stackName, status: stack.status });
    await removeStack(this.deps, this.config, stack);
  }

  private async waitToLeave(before: string | undefined): Promise<void> {
    const { stackName } = this.config;
    await this.poll(`endpoint stack ${stackName} to leave ${before}`, 2_000, 15_000, async () => {
      const now = await describeStack(this.deps.cfn, stackName);
      return now?.status !== before || stackPhase(now?.status) === 'stable' ? true : undefined;
    });
  }

  /** True once every endpoint is available within the lease margin; false after renewing the lease. */
  private async use(stack: StackView): Promise<boolean> {
    const { deps, config } = this;
    await this.poll(`every endpoint of ${config.stackName} to be available`, 2_000, 15_000, async () =>
      (await endpointsAvailable(deps.ec2, stack.endpointIds)) ? true : undefined,
    );
    // RunTask must land well before the lease ends: 60 s, or a quarter of a shorter lease.
    if (deps.clock.now() <= this.leaseUntil - Math.min(60_000, config.leaseMs / 4)) return true;
    await this.holdLease();
    return false;
  }

  private poll(what: string, baseMs: number, maxMs: number, check: () => Promise<true | undefined>) {
    return pollUntil(check, { deadline: this.deadline, clock: this.deps.clock, what, baseMs, maxMs });
  }
}
