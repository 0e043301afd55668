// The run / study report: one self-contained HTML file (inline style and SVG, no script, no external
// font or stylesheet) that opens offline in any browser and can be committed next to the results.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Chart, ReportData, Table } from './reportData.ts';
import { CHART_HEIGHT, CHART_WIDTH, barChartSvg, lineChartSvg } from './svgChart.ts';
import { escapeXml } from './xml.ts';

/** Significant digits shown for a non-integer table cell. */
const TABLE_SIGNIFICANT_DIGITS = 3;

/** Below this magnitude a non-integer cell is written in exponent form (0.0001 would need 4 zeros). */
const SMALLEST_FIXED_MAGNITUDE = 1e-3;

/** A chart id becomes part of an element id (`chart-<id>`): letters, digits, '-' and '_' only. */
const CHART_ID = /^[A-Za-z0-9_-]+$/;

/** Gap between charts in the grid, in CSS pixels. */
const CHART_GAP = 16;

/**
 * A number as a table shows it: integers as they are; other numbers to 3 significant digits without ever
 * cutting digits left of the decimal point (1234.56 → 1235, 12.345 → 12.3, 0.012345 → 0.0123); tiny ones
 * in exponent form; NaN and infinities spelled out.
 */
export function formatCell(value: string | number): string {
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude < SMALLEST_FIXED_MAGNITUDE) return value.toExponential(TABLE_SIGNIFICANT_DIGITS - 1);
  const integerDigits = Math.floor(Math.log10(magnitude)) + 1;
  return value.toFixed(Math.max(0, TABLE_SIGNIFICANT_DIGITS - integerDigits));
}

function tableHtml(table: Table, index: number): string {
  table.rows.forEach((row, r) => {
    if (row.length !== table.columns.length) {
      throw new Error(
        `report.tables[${index}] ("${table.title}"): row ${r} has ${row.length} cells, expected ${table.columns.length}`,
      );
    }
  });
  const head = table.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        '<tr>' +
        row
          .map(
            (cell) =>
              `<td${typeof cell === 'number' ? ' class="num"' : ''}>${escapeXml(formatCell(cell))}</td>`,
          )
          .join('') +
        '</tr>',
    )
    .join('\n');
  return (
    `<section class="table"><h2>${escapeXml(table.title)}</h2>\n` +
    `<table><thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></section>`
  );
}

function chartHtml(chart: Chart): string {
  const svg = chart.kind === 'line' ? lineChartSvg(chart) : barChartSvg(chart);
  return `<figure class="chart" id="chart-${escapeXml(chart.id)}">${svg}</figure>`;
}

function checkChartIds(charts: Chart[]): void {
  const seen = new Set<string>();
  charts.forEach((chart, i) => {
    if (!CHART_ID.test(chart.id)) {
      throw new Error(`report.charts[${i}].id must match ${CHART_ID} (got ${JSON.stringify(chart.id)})`);
    }
    if (seen.has(chart.id))
      throw new Error(`report.charts[${i}].id "${chart.id}" is used by an earlier chart`);
    seen.add(chart.id);
  });
}

const STYLE = `
  :root { color-scheme: light; }
  body { margin: 0; padding: 24px; background: #ffffff; color: #222222;
         font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  .subtitle { color: #555555; margin: 0 0 4px; }
  .generated { color: #888888; font-size: 12px; margin: 0 0 16px; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid #dddddd; padding: 4px 10px; text-align: left; vertical-align: top; }
  th { background: #f5f5f5; font-weight: 600; }
  td.num { text-align: right; }
  .charts { display: grid; gap: ${CHART_GAP}px; margin-top: 24px;
            grid-template-columns: repeat(auto-fill, minmax(min(100%, ${CHART_WIDTH + 2}px), 1fr)); }
  figure.chart { margin: 0; border: 1px solid #e0e0e0; min-height: ${CHART_HEIGHT}px; }
  figure.chart svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
  .notes { color: #444444; }
  nav.links ul { margin: 0 0 8px; padding-left: 20px; }
`;

/** The whole report as one HTML document. */
export function renderReport(data: ReportData): string {
  checkChartIds(data.charts);
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(data.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeXml(data.title)}</h1>`,
  ];
  if (data.subtitle) parts.push(`<p class="subtitle">${escapeXml(data.subtitle)}</p>`);
  parts.push(`<p class="generated">generated ${escapeXml(data.generatedAt)}</p>`);
  if (data.links && data.links.length > 0) {
    const items = data.links.map((l) => `<li><a href="${escapeXml(l.href)}">${escapeXml(l.text)}</a></li>`);
    parts.push(`<nav class="links"><ul>${items.join('')}</ul></nav>`);
  }
  data.tables.forEach((t, i) => parts.push(tableHtml(t, i)));
  if (data.charts.length > 0)
    parts.push(`<div class="charts">\n${data.charts.map(chartHtml).join('\n')}\n</div>`);
  if (data.notes && data.notes.length > 0) {
    parts.push(
      `<section class="notes"><h2>Notes</h2><ul>${data.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul></section>`,
    );
  }
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}

/** Writes the report to path (creating its folder) and returns the path. */
export function writeReport(path: string, data: ReportData): string {
  const html = renderReport(data);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, html);
  return path;
}
