import type { ReapReport } from './execute.ts';
import type { Plan, PlannedRoute } from './inspect.ts';

/** Data values are strings (Fn::GetAtt friendly); lists are comma-separated and capped. */
const LIST_BUDGET = 400;

export function newReport(alreadyGone: string[] = [], unlistedRouteTables: string[] = []): ReapReport {
  return {
    deletedRoutes: [],
    deletedNatGateways: [],
    releasedEips: [],
    alreadyGone: [...alreadyGone],
    unlistedRouteTables,
    natWaitMs: 0,
  };
}

export const routeLabel = (r: PlannedRoute) => `${r.routeTableId} ${r.destination}`;

export function joinCapped(values: readonly string[], budget = LIST_BUDGET): string {
  let text = '';
  for (let i = 0; i < values.length; i++) {
    const next = text === '' ? (values[i] as string) : `${text},${values[i]}`;
    const more = ` (+${values.length - i} more)`;
    if (next.length > budget - (i < values.length - 1 ? more.length : 0)) return `${text}${more}`;
    text = next;
  }
  return text;
}

export function planData(plan: Plan): Record<string, string> {
  return {
    // The same attributes as a real run (empty), so Fn::GetAtt works in both modes.
    ...reportData(plan.vpcId, newReport()),
    DryRun: 'true',
    RoutesToDelete: joinCapped(plan.routes.map(routeLabel)),
    NatGatewaysToDelete: joinCapped(plan.natGatewaysToWaitFor),
    EipsToRelease: joinCapped(plan.eipsToRelease),
    InternetGatewayToDelete: plan.internetGateway?.id ?? '',
    AlreadyGone: joinCapped(plan.alreadyGone),
    UnlistedRouteTables: joinCapped(plan.unlistedRouteTables),
  };
}

export function reportData(vpcId: string, report: ReapReport): Record<string, string> {
  return {
    DryRun: 'false',
    VpcId: vpcId,
    DeletedRoutes: joinCapped(report.deletedRoutes),
    DeletedNatGateways: joinCapped(report.deletedNatGateways),
    ReleasedEips: joinCapped(report.releasedEips),
    DetachedInternetGateway: report.detachedInternetGateway ?? '',
    DeletedInternetGateway: report.deletedInternetGateway ?? '',
    AlreadyGone: joinCapped(report.alreadyGone),
    UnlistedRouteTables: joinCapped(report.unlistedRouteTables),
  };
}
