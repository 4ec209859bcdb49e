import { execute, type ReapOptions, type ReapReport } from './execute.ts';
import { inspect, type Plan, type ReapDeps } from './inspect.ts';
import type { ReapSpec } from './properties.ts';
import { joinCapped } from './reap-data.ts';

/** Keeps one log record well under 8 KB whatever the VPC holds. */
const LOG_LIST_BUDGET = 1_000;

/** Inspect, then (unless DryRun) execute. */
export async function reap(
  spec: ReapSpec,
  deps: ReapDeps,
  options: ReapOptions,
): Promise<{ plan: Plan; report: ReapReport | undefined }> {
  const plan = await inspect(spec, deps, options);
  const capped = (values: string[]) => joinCapped(values, LOG_LIST_BUDGET);
  deps.logger.info(spec.dryRun ? 'Dry run: plan only' : 'Plan', {
    routes: plan.routes.length,
    natGatewaysToDelete: capped(plan.natGatewaysToDelete),
    natGatewaysToWaitFor: capped(plan.natGatewaysToWaitFor),
    eipsToRelease: capped(plan.eipsToRelease),
    internetGateway: plan.internetGateway?.id,
    alreadyGone: capped(plan.alreadyGone),
  });
  if (spec.dryRun) return { plan, report: undefined };
  if (plan.unlistedRouteTables.length > 0) {
    deps.logger.warn(
      'Route tables not listed in RouteTableIds still route to a gateway being removed; left alone',
      {
        routeTableIds: capped(plan.unlistedRouteTables),
      },
    );
  }
  return { plan, report: await execute(plan, deps, options) };
}
