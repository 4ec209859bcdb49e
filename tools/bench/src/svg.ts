// Hand-rolled SVG charts: no dependency, deterministic output, readable on GitHub.

export interface Bar {
  label: string;
  value: number;
  /** Shown instead of the value (e.g. "error"). */
  note?: string | undefined;
  /** Optional series name for grouped bars (legend). */
  series?: string;
}

export interface BarChartOptions {
  title: string;
  bars: Bar[];
  /** Unit appended to values, e.g. "x", " ms". */
  unit?: string;
  /** A vertical dashed line (e.g. the 2.0x target). */
  target?: number;
  /** Values are formatted with this many decimals. Default 2. */
  decimals?: number;
}

const PALETTE = ['#2f6fb0', '#d9822b', '#3a9b5c', '#8e5bb5', '#c0392b', '#7f8c8d'];

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A "nice" axis maximum at or above `value` (1, 2, 2.5, 5 x 10^n). */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

/** Horizontal bar chart, one row per bar; bars with a `series` get a colour and a legend. */
export function barChart(options: BarChartOptions): string {
  const { bars, title } = options;
  const unit = options.unit ?? '';
  const decimals = options.decimals ?? 2;
  const labelWidth = Math.min(360, Math.max(120, ...bars.map((b) => b.label.length * 7 + 16)));
  const plotWidth = 460;
  const rowHeight = 24;
  const top = 44;
  const seriesNames = [...new Set(bars.map((b) => b.series).filter((s): s is string => s !== undefined))];
  const legendHeight = seriesNames.length > 0 ? 24 : 0;
  const height = top + bars.length * rowHeight + 30 + legendHeight;
  const width = labelWidth + plotWidth + 90;
  const max = niceMax(Math.max(options.target ?? 0, ...bars.map((b) => b.value)) * 1.05);
  const x = (v: number): number => labelWidth + (v / max) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  parts.push(...grid(max, unit, x, top, top + bars.length * rowHeight));
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const colour =
      bar.series !== undefined ? PALETTE[seriesNames.indexOf(bar.series) % PALETTE.length] : PALETTE[0];
    const over = options.target !== undefined && bar.value > options.target;
    const fill = bar.note !== undefined ? '#bbbbbb' : over && bar.series === undefined ? '#c0392b' : colour;
    const w = Math.max(0, x(bar.value) - labelWidth);
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${fill}"/>`,
      `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}" fill="#333">${escapeXml(
        bar.note ?? `${bar.value.toFixed(decimals)}${unit}`,
      )}</text>`,
    );
  });
  if (options.target !== undefined) {
    const tx = x(options.target).toFixed(1);
    parts.push(
      `<line x1="${tx}" y1="${top - 8}" x2="${tx}" y2="${top + bars.length * rowHeight}" stroke="#c0392b" stroke-dasharray="5,4" stroke-width="1.5"/>`,
      `<text x="${tx}" y="${top - 12}" text-anchor="middle" fill="#c0392b">${escapeXml(
        `target ${options.target}${unit}`,
      )}</text>`,
    );
  }
  if (seriesNames.length > 0) parts.push(...legend(seriesNames, labelWidth, height - 14));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One coloured square and name per series, left to right along the bottom. */
function legend(seriesNames: string[], left: number, ly: number): string[] {
  const parts: string[] = [];
  let lx = left;
  seriesNames.forEach((name, i) => {
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${lx + 16}" y="${ly}">${escapeXml(name)}</text>`,
    );
    lx += 30 + name.length * 7;
  });
  return parts;
}

/** Five vertical grid lines with their values under the axis. */
function grid(max: number, unit: string, x: (v: number) => number, top: number, axisY: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i;
    const gx = x(v).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${axisY}" stroke="#e3e3e3"/>`);
    parts.push(
      `<text x="${gx}" y="${axisY + 16}" text-anchor="middle" fill="#555">${escapeXml(`${Number(v.toFixed(2))}${unit}`)}</text>`,
    );
  }
  return parts;
}
