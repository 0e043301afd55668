// Line and bar charts as standalone inline SVG strings: no script, no external font or style, so a report
// renders the same in any browser and offline. Coordinates are computed here; the browser only draws.
import type { Bar, BarChart, LineChart, Point } from './reportData.ts';
import { niceTicks, tickLabel } from './ticks.ts';
import { coord, escapeXml } from './xml.ts';

export { niceTicks } from './ticks.ts';

/**
 * Series colours in order: matplotlib's default cycle ("tab10", from Tableau 10), chosen to be told apart
 * on screen and in print. The i-th series of a chart gets PALETTE[i % PALETTE.length].
 */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
] as const;

/** Colour of the i-th series of a chart. */
export function seriesColor(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** Chart size in CSS pixels: two side by side fit a 1366-pixel-wide laptop screen. */
export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 360;

/** Bars all share the palette's first colour; error bars are black so they stand out from any bar. */
export const BAR_COLOR = PALETTE[0];
export const ERROR_BAR_COLOR = '#000000';

const TEXT_COLOR = '#222222';
const MUTED_TEXT_COLOR = '#888888';
const AXIS_COLOR = '#444444';
const GRID_COLOR = '#e6e6e6';
const FONT_FAMILY = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';
const FONT_SIZE = 12;
const TITLE_FONT_SIZE = 14;
/** Average glyph width of a sans-serif font as a fraction of its size; only used to reserve space. */
const CHAR_WIDTH = 0.6 * FONT_SIZE;
const LINE_HEIGHT = 16;
const PAD = 10;
const TITLE_BAND = 30;
const Y_TICK_COUNT = 5;
const X_TICK_COUNT = 6;
const TICK_LENGTH = 4;
/** Height under a line chart's plot for tick labels and the x axis label. */
const X_AXIS_BAND = TICK_LENGTH + 2 * LINE_HEIGHT + 8;
const LINE_WIDTH = 2;
/** Series with at most this many points get a marker on each point, so sparse data stays visible. */
export const MAX_POINTS_WITH_MARKERS = 30;
const MARKER_RADIUS = 3;
const LEGEND_SWATCH = 18;
const LEGEND_GAP = 16;
/** Bars take this fraction of their slot; the rest is the gap between bars. */
const BAR_FILL = 0.7;
const ERROR_CAP_WIDTH = 10;
/** Bar labels longer than this are cut with an ellipsis (the full label is the bar's tooltip). */
const MAX_BAR_LABEL_CHARS = 24;
/** Bar labels that do not fit their slot are turned by this angle (degrees). */
const BAR_LABEL_ANGLE = -35;

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface LegendItem {
  name: string;
  /** Undefined for a series with nothing to draw: its entry gets no colour swatch. */
  color?: string;
}

const estimateTextWidth = (text: string): number => text.length * CHAR_WIDTH;

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${coord(x)}" y="${coord(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(content)}</text>`;
}

/** Linear map from a data interval onto a pixel interval. */
function scale(d0: number, d1: number, p0: number, p1: number): (v: number) => number {
  return (v) => p0 + ((v - d0) / (d1 - d0)) * (p1 - p0);
}

function svgOpen(title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" ` +
    `viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-label="${escapeXml(title)}" ` +
    `font-family="${FONT_FAMILY}" font-size="${FONT_SIZE}" fill="${TEXT_COLOR}">` +
    `<title>${escapeXml(title)}</title>` +
    `<rect width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="#ffffff"/>` +
    text(
      CHART_WIDTH / 2,
      PAD + TITLE_FONT_SIZE,
      title,
      `text-anchor="middle" font-size="${TITLE_FONT_SIZE}" font-weight="600"`,
    )
  );
}

/** Lays legend entries out left to right, wrapping into rows; returns the markup and its height. */
function legendRows(items: LegendItem[], width: number): { rows: LegendItem[][]; height: number } {
  const rows: LegendItem[][] = [];
  let row: LegendItem[] = [];
  let used = 0;
  for (const item of items) {
    const w = LEGEND_SWATCH + 4 + estimateTextWidth(legendLabel(item)) + LEGEND_GAP;
    if (row.length > 0 && used + w > width) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(item);
    used += w;
  }
  if (row.length > 0) rows.push(row);
  return { rows, height: rows.length * LINE_HEIGHT };
}

const legendLabel = (item: LegendItem): string => (item.color ? item.name : `${item.name} (no data)`);

function legendSvg(rows: LegendItem[][], left: number, top: number): string {
  const parts: string[] = [];
  rows.forEach((row, r) => {
    const y = top + r * LINE_HEIGHT + LINE_HEIGHT / 2;
    let x = left;
    for (const item of row) {
      if (item.color) {
        parts.push(
          `<line x1="${coord(x)}" y1="${coord(y)}" x2="${coord(x + LEGEND_SWATCH)}" y2="${coord(y)}" ` +
            `stroke="${item.color}" stroke-width="${LINE_WIDTH + 1}"/>`,
        );
      }
      const label = legendLabel(item);
      parts.push(
        text(x + LEGEND_SWATCH + 4, y + FONT_SIZE / 3, label, item.color ? '' : `fill="${MUTED_TEXT_COLOR}"`),
      );
      x += LEGEND_SWATCH + 4 + estimateTextWidth(label) + LEGEND_GAP;
    }
  });
  return parts.join('');
}

/** Horizontal grid lines, y tick labels, the y axis line and the rotated y axis label. */
function yAxisSvg(ticks: number[], y: (v: number) => number, plot: Rect, label: string): string {
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  const parts: string[] = [];
  for (const t of ticks) {
    const py = coord(y(t));
    const color = t === 0 ? AXIS_COLOR : GRID_COLOR;
    parts.push(
      `<line x1="${coord(plot.left)}" y1="${py}" x2="${coord(plot.right)}" y2="${py}" stroke="${color}"/>`,
    );
    parts.push(
      text(plot.left - TICK_LENGTH - 2, y(t) + FONT_SIZE / 3, tickLabel(t, step), 'text-anchor="end"'),
    );
  }
  parts.push(
    `<line x1="${coord(plot.left)}" y1="${coord(plot.top)}" x2="${coord(plot.left)}" y2="${coord(plot.bottom)}" stroke="${AXIS_COLOR}"/>`,
  );
  const cy = (plot.top + plot.bottom) / 2;
  parts.push(
    text(
      PAD + FONT_SIZE,
      cy,
      label,
      `text-anchor="middle" transform="rotate(-90 ${coord(PAD + FONT_SIZE)} ${coord(cy)})"`,
    ),
  );
  return parts.join('');
}

function yTickLabelWidth(ticks: number[]): number {
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  return Math.max(...ticks.map((t) => estimateTextWidth(tickLabel(t, step))));
}

const isFinitePoint = (p: Point): boolean => Number.isFinite(p.x) && Number.isFinite(p.y);

/** Extent of some numbers, or the fallback when there are none. */
function extent(values: number[], fallback: [number, number]): [number, number] {
  if (values.length === 0) return fallback;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * A line chart: one polyline per series in its own palette colour (points joined in the order given),
 * markers when a series is sparse, and a legend. Points with a NaN or infinite coordinate are skipped;
 * a series left with no points is listed in the legend as "(no data)" and draws nothing.
 */
export function lineChartSvg(chart: LineChart): string {
  const drawn = chart.series.map((s) => s.points.filter(isFinitePoint));
  const all = drawn.flat();
  const xTicks = niceTicks(
    ...extent(
      all.map((p) => p.x),
      [0, 1],
    ),
    X_TICK_COUNT,
  );
  const yTicks = niceTicks(
    ...extent(
      all.map((p) => p.y),
      [0, 1],
    ),
    Y_TICK_COUNT,
  );
  const legendItems: LegendItem[] = chart.series.map((s, i) => ({
    name: s.name,
    color: drawn[i]!.length > 0 ? seriesColor(i) : undefined,
  }));
  const left = PAD + FONT_SIZE + LINE_HEIGHT / 2 + yTickLabelWidth(yTicks) + TICK_LENGTH + 4;
  const legend = legendRows(legendItems, CHART_WIDTH - left - PAD);
  const plot: Rect = {
    left,
    top: TITLE_BAND + PAD,
    right: CHART_WIDTH - PAD * 2,
    bottom: CHART_HEIGHT - PAD - legend.height - X_AXIS_BAND,
  };
  const x = scale(xTicks[0]!, xTicks.at(-1)!, plot.left, plot.right);
  const y = scale(yTicks[0]!, yTicks.at(-1)!, plot.bottom, plot.top);
  const xStep = xTicks.length > 1 ? xTicks[1]! - xTicks[0]! : 1;

  const parts = [svgOpen(chart.title), yAxisSvg(yTicks, y, plot, chart.yLabel)];
  parts.push(
    `<line x1="${coord(plot.left)}" y1="${coord(plot.bottom)}" x2="${coord(plot.right)}" y2="${coord(plot.bottom)}" stroke="${AXIS_COLOR}"/>`,
  );
  for (const t of xTicks) {
    const px = coord(x(t));
    parts.push(
      `<line x1="${px}" y1="${coord(plot.bottom)}" x2="${px}" y2="${coord(plot.bottom + TICK_LENGTH)}" stroke="${AXIS_COLOR}"/>`,
    );
    parts.push(
      text(x(t), plot.bottom + TICK_LENGTH + FONT_SIZE + 2, tickLabel(t, xStep), 'text-anchor="middle"'),
    );
  }
  parts.push(
    text(
      (plot.left + plot.right) / 2,
      plot.bottom + TICK_LENGTH + LINE_HEIGHT * 2,
      chart.xLabel,
      'text-anchor="middle"',
    ),
  );
  if (all.length === 0) {
    parts.push(
      text(
        (plot.left + plot.right) / 2,
        (plot.top + plot.bottom) / 2,
        'no data',
        `text-anchor="middle" fill="${MUTED_TEXT_COLOR}"`,
      ),
    );
  }
  drawn.forEach((points, i) => {
    if (points.length === 0) return;
    const color = seriesColor(i);
    const path = points.map((p) => `${coord(x(p.x))},${coord(y(p.y))}`).join(' ');
    parts.push(
      `<g class="series" data-series="${i}"><title>${escapeXml(chart.series[i]!.name)}</title>` +
        `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="${LINE_WIDTH}" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (points.length <= MAX_POINTS_WITH_MARKERS) {
      for (const p of points) {
        parts.push(
          `<circle cx="${coord(x(p.x))}" cy="${coord(y(p.y))}" r="${MARKER_RADIUS}" fill="${color}"/>`,
        );
      }
    }
    parts.push('</g>');
  });
  parts.push(legendSvg(legend.rows, plot.left, CHART_HEIGHT - PAD - legend.height));
  parts.push('</svg>');
  return parts.join('');
}

const shortLabel = (label: string): string =>
  label.length > MAX_BAR_LABEL_CHARS ? label.slice(0, MAX_BAR_LABEL_CHARS - 1) + '…' : label;

/** The interval an error bar spans, or undefined when the bar has no finite low or high. */
function errorInterval(bar: Bar): [number, number] | undefined {
  const low = bar.low !== undefined && Number.isFinite(bar.low) ? bar.low : undefined;
  const high = bar.high !== undefined && Number.isFinite(bar.high) ? bar.high : undefined;
  if (low === undefined && high === undefined) return undefined;
  const value = Number.isFinite(bar.value) ? bar.value : (low ?? high)!;
  return [low ?? value, high ?? value];
}

/**
 * A bar chart: one bar per entry from zero (so negative values hang below the zero line), an error bar
 * where low or high is given, labels under the bars (turned when they do not fit). A bar whose value is
 * NaN or infinite is labelled but not drawn.
 */
export function barChartSvg(chart: BarChart): string {
  const values: number[] = [0];
  for (const bar of chart.bars) {
    if (Number.isFinite(bar.value)) values.push(bar.value);
    const interval = errorInterval(bar);
    if (interval) values.push(...interval);
  }
  const yTicks = niceTicks(...extent(values, [0, 1]), Y_TICK_COUNT);
  const left = PAD + FONT_SIZE + LINE_HEIGHT / 2 + yTickLabelWidth(yTicks) + TICK_LENGTH + 4;
  const right = CHART_WIDTH - PAD * 2;
  const slot = chart.bars.length > 0 ? (right - left) / chart.bars.length : right - left;
  const labels = chart.bars.map((b) => shortLabel(b.label));
  const widest = Math.max(0, ...labels.map(estimateTextWidth));
  const turned = widest > slot - 4;
  const sin = Math.abs(Math.sin((BAR_LABEL_ANGLE * Math.PI) / 180));
  const labelBand = turned ? widest * sin + FONT_SIZE + 4 : LINE_HEIGHT + 4;
  const plot: Rect = { left, top: TITLE_BAND + PAD, right, bottom: CHART_HEIGHT - PAD - labelBand };
  const y = scale(yTicks[0]!, yTicks.at(-1)!, plot.bottom, plot.top);

  const parts = [svgOpen(chart.title), yAxisSvg(yTicks, y, plot, chart.yLabel)];
  if (chart.bars.length === 0) {
    parts.push(
      text(
        (plot.left + plot.right) / 2,
        (plot.top + plot.bottom) / 2,
        'no data',
        `text-anchor="middle" fill="${MUTED_TEXT_COLOR}"`,
      ),
    );
  }
  chart.bars.forEach((bar, i) => {
    const cx = plot.left + slot * (i + 0.5);
    const barParts: string[] = [`<g class="bar"><title>${escapeXml(bar.label)}</title>`];
    if (Number.isFinite(bar.value)) {
      const top = Math.min(y(bar.value), y(0));
      const height = Math.abs(y(bar.value) - y(0));
      barParts.push(
        `<rect x="${coord(cx - (slot * BAR_FILL) / 2)}" y="${coord(top)}" width="${coord(slot * BAR_FILL)}" ` +
          `height="${coord(height)}" fill="${BAR_COLOR}"/>`,
      );
    }
    const interval = errorInterval(bar);
    if (interval) {
      const [y0, y1] = interval.map(y) as [number, number];
      const cap = Math.min(ERROR_CAP_WIDTH, slot * BAR_FILL) / 2;
      const stroke = `stroke="${ERROR_BAR_COLOR}" stroke-width="1.5"`;
      barParts.push(
        `<path class="error-bar" d="M${coord(cx)} ${coord(y0)}V${coord(y1)}M${coord(cx - cap)} ${coord(y0)}` +
          `H${coord(cx + cap)}M${coord(cx - cap)} ${coord(y1)}H${coord(cx + cap)}" fill="none" ${stroke}/>`,
      );
    }
    const ly = plot.bottom + FONT_SIZE + 4;
    barParts.push(
      turned
        ? text(
            cx,
            ly,
            labels[i]!,
            `text-anchor="end" transform="rotate(${BAR_LABEL_ANGLE} ${coord(cx)} ${coord(ly)})"`,
          )
        : text(cx, ly, labels[i]!, 'text-anchor="middle"'),
    );
    barParts.push('</g>');
    parts.push(barParts.join(''));
  });
  parts.push(
    `<line x1="${coord(plot.left)}" y1="${coord(plot.bottom)}" x2="${coord(plot.right)}" y2="${coord(plot.bottom)}" stroke="${AXIS_COLOR}"/>`,
  );
  parts.push('</svg>');
  return parts.join('');
}
