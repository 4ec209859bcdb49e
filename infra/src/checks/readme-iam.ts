// A package README's `## IAM` section against its template: the tables list, per function, every
// action each statement grants with the statement's resource type and condition keys, and nothing the
// template does not grant. A package with several functions heads each function's tables with a
// `### \`<LogicalId>\`` line; other `###` headings (a service role) end the function's part.
import type { GrantStatement, TemplateFunction } from './grants.ts';

export interface ReadmeRow {
  /** Logical id of the function the row belongs to. */
  function: string;
  actions: string[];
  resource: string;
  condition: string;
}

const ACTION = /`([a-z0-9-]+:[A-Za-z0-9*]+)`/g;

/** The table rows of the `## IAM` section, by the function they belong to. */
export function readmeIamRows(markdown: string, functionIds: readonly string[]): ReadmeRow[] {
  const section = /^## IAM\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1] ?? '';
  let current = functionIds.length === 1 ? functionIds[0] : undefined;
  const rows: ReadmeRow[] = [];
  for (const line of section.split('\n')) {
    if (line.startsWith('### ')) {
      current = functionIds.find((id) => line.includes(`\`${id}\``));
      continue;
    }
    if (current === undefined || !line.startsWith('|') || /^\|\s*(-+|action)\s*\|/.test(line)) continue;
    const [actionCell = '', resource = '', condition = ''] = line.split('|').slice(1, -1);
    const actions = [...actionCell.matchAll(ACTION)].map((m) => m[1] as string);
    if (actions.length > 0) rows.push({ function: current, actions, resource, condition });
  }
  return rows;
}

/** The resource type word of a statement's Resource glob: `network-interface` of `arn:*:ec2:*:*:network-interface/*`. */
export function resourceToken(resource: string): string {
  if (resource === '*') return '*';
  const part = resource.split(':').slice(5).join(':');
  return /^[^/:]+/.exec(part)?.[0] ?? part;
}

function namesToken(cell: string, token: string): boolean {
  if (token === '*') return cell.includes('`*`');
  return new RegExp(`\`${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[/:\`]`).test(cell);
}

function rowCovers(row: ReadmeRow, action: string, statement: GrantStatement, token: string): boolean {
  return (
    row.actions.includes(action) &&
    namesToken(row.resource, token) &&
    statement.conditions.every((c) => row.condition.includes(c.key))
  );
}

/** Differences between a function's statements and its README rows, one message each. */
export function compareReadme(
  fn: Pick<TemplateFunction, 'id' | 'statements'>,
  rows: readonly ReadmeRow[],
): string[] {
  const mine = rows.filter((r) => r.function === fn.id);
  const problems: string[] = [];
  for (const statement of fn.statements) {
    for (const action of statement.actions) {
      for (const token of new Set(statement.resources.map(resourceToken))) {
        if (!mine.some((row) => rowCovers(row, action, statement, token))) {
          const keys = statement.conditions.map((c) => c.key).join(', ');
          problems.push(
            `${fn.id}: no row lists ${action} on \`${token}\`${keys === '' ? '' : ` with ${keys}`} (statement ${statement.sid})`,
          );
        }
      }
    }
  }
  const granted = new Set(fn.statements.flatMap((s) => s.actions));
  for (const row of mine) {
    for (const action of row.actions) {
      if (!granted.has(action))
        problems.push(`${fn.id}: the README lists ${action}, which the template does not grant`);
    }
  }
  return problems;
}
