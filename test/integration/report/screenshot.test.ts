// The report's plots really draw: render reports, screenshot them in headless Chromium, and find each
// series' colour in the pixels, inside the box of the chart it belongs to and nowhere else.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chart, ReportData } from '../../../core/metrics/reportData.ts';
import { renderReport } from '../../../core/metrics/report.ts';
import { BAR_COLOR, ERROR_BAR_COLOR, PALETTE } from '../../../core/metrics/svgChart.ts';
import { type Box, type Screenshot, findChromium, pixelsOf, screenshotHtml } from './chromium.ts';

/** Wide enough for two charts side by side (2 × 642 px + gap + page padding), tall enough for two rows. */
const VIEWPORT = { width: 1400, height: 1300 };
/** A series' line across the plot gives over a thousand pixels; its legend swatch alone is 18×3 = 54. */
const MIN_SERIES_PIXELS = 200;
/** A bar's edges can each lose a partly covered pixel row to antialiasing. */
const BAR_HEIGHT_SLACK = 2;

const work = mkdtempSync(join(tmpdir(), 'report-screenshot-'));
let keepWork = false;
after(() => {
  if (keepWork) console.log(`screenshots kept for inspection in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

function chromiumOrFail(): string {
  const bin = findChromium();
  if (!bin) {
    assert.fail(
      'no headless browser found: install one with `apt-get install chromium` ' +
        '(or set REASONLOOP_CHROMIUM to a chromium binary)',
    );
  }
  return bin;
}

async function shoot(name: string, data: ReportData): Promise<Screenshot> {
  const dir = mkdtempSync(join(work, `${name}-`));
  return screenshotHtml(chromiumOrFail(), renderReport(data), dir, VIEWPORT);
}

function boxOf(shot: Screenshot, chartId: string): Box {
  const box = shot.boxes.get(`chart-${chartId}`);
  assert.ok(box, `chart-${chartId} is laid out (boxes: ${[...shot.boxes.keys()]})`);
  assert.ok(
    box.left >= 0 &&
      box.top >= 0 &&
      box.left + box.width <= shot.png.width &&
      box.top + box.height <= shot.png.height,
    `chart-${chartId} ${JSON.stringify(box)} lies inside the ${shot.png.width}×${shot.png.height} screenshot`,
  );
  return box;
}

const ramp = (n: number, f: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => ({ x: i, y: f(i) }));

const charts: Chart[] = [
  {
    kind: 'line',
    id: 'reward',
    title: 'Reward',
    xLabel: 'step',
    yLabel: 'mean reward',
    series: [
      { name: 'train (rising)', points: ramp(40, (i) => i) },
      { name: 'eval (falling)', points: ramp(8, (i) => 39 - 5 * i).map((p) => ({ ...p, x: p.x * 5 })) },
    ],
  },
  {
    kind: 'line',
    id: 'kl',
    title: 'KL',
    xLabel: 'step',
    yLabel: 'kl',
    series: [0, 1, 2, 3].map((k) => ({ name: `arm ${k}`, points: ramp(60, (i) => Math.sin(i / 6) + 3 * k) })),
  },
  {
    kind: 'bar',
    id: 'accuracy',
    title: 'Accuracy',
    yLabel: 'accuracy',
    bars: [
      { label: 'one', value: 1 },
      { label: 'two', value: 2, low: 1.5, high: 2.5 },
      { label: 'four', value: 4 },
    ],
  },
];

const report: ReportData = {
  title: 'Screenshot test',
  subtitle: 'two line charts and a bar chart',
  generatedAt: '2026-01-01T00:00:00Z',
  tables: [{ title: 'summary', columns: ['metric', 'value'], rows: [['accuracy', 0.5]] }],
  charts,
  notes: ['the plots must draw'],
};

test('the report draws every series in its colour, inside its own chart', async () => {
  const started = performance.now();
  const shot = await shoot('full', report);
  keepWork = true; // until every assertion below has passed
  const { png } = shot;
  assert.equal(png.width, VIEWPORT.width);
  assert.equal(png.height, VIEWPORT.height);

  // Not blank: a good share of non-white pixels, in many colours.
  let nonWhite = 0;
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += png.channels) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r < 250 || g < 250 || b < 250) nonWhite++;
    colours.add((r << 16) | (g << 8) | b);
  }
  assert.ok(nonWhite > png.width * png.height * 0.02, `only ${nonWhite} non-white pixels`);
  assert.ok(colours.size > 50, `only ${colours.size} distinct colours`);

  const reward = boxOf(shot, 'reward');
  const kl = boxOf(shot, 'kl');
  const accuracy = boxOf(shot, 'accuracy');
  const count = (hex: string, box?: Box): number => pixelsOf(png, hex, box).length;

  // Each line series shows up in its palette colour inside its chart.
  for (const [box, n, id] of [
    [reward, 2, 'reward'],
    [kl, 4, 'kl'],
  ] as const) {
    for (let k = 0; k < n; k++) {
      const c = count(PALETTE[k], box);
      assert.ok(c >= MIN_SERIES_PIXELS, `chart ${id}, series ${k} (${PALETTE[k]}): ${c} pixels`);
    }
  }
  // ...and only there: colours 2 and 3 are used by the KL chart alone, colour 1 by the two line charts.
  for (const k of [2, 3]) {
    assert.equal(count(PALETTE[k]), count(PALETTE[k], kl), `every ${PALETTE[k]} pixel lies in chart-kl`);
    assert.equal(count(PALETTE[k], reward), 0);
  }
  assert.equal(count(PALETTE[1]), count(PALETTE[1], reward) + count(PALETTE[1], kl));
  assert.equal(count(PALETTE[1], accuracy), 0);

  // Direction: the rising series' highest pixel is on the right, the falling one's on the left (legend
  // swatches sit under the plot, so the highest pixels are the lines').
  const topmost = (hex: string, box: Box): number =>
    pixelsOf(png, hex, box).reduce((best, p) => (p[1] < best[1] ? p : best), [0, Infinity])[0];
  const middle = reward.left + reward.width / 2;
  assert.ok(topmost(PALETTE[0], reward) > middle, 'rising series ends top right');
  assert.ok(topmost(PALETTE[1], reward) < middle, 'falling series starts top left');

  // Bars: three runs of bar-coloured columns whose heights go 1 : 2 : 4, and a black error bar.
  const barPixels = pixelsOf(png, BAR_COLOR, accuracy);
  const columns = new Map<number, number[]>();
  for (const [x, y] of barPixels) columns.set(x, [...(columns.get(x) ?? []), y]);
  const xs = [...columns.keys()].sort((a, b) => a - b);
  const runs: number[][] = [];
  for (const x of xs) {
    const run = runs.at(-1);
    if (run && x === run.at(-1)! + 1) run.push(x);
    else runs.push([x]);
  }
  assert.equal(runs.length, 3, `bar runs at ${runs.map((r) => `${r[0]}–${r.at(-1)}`)}`);
  // Measure a quarter of the way into each bar, clear of the error bar at its centre.
  const heights = runs.map((r) => columns.get(r[Math.floor(r.length / 4)]!)!.length);
  // Heights proportional to values 1, 2, 4: each within BAR_HEIGHT_SLACK of the least-squares fit a·value.
  const values = [1, 2, 4];
  const a = heights.reduce((s, h, i) => s + h * values[i]!, 0) / values.reduce((s, v) => s + v * v, 0);
  assert.ok(a > 20, `bar heights ${heights}`);
  heights.forEach((h, i) =>
    assert.ok(
      Math.abs(h - a * values[i]!) <= BAR_HEIGHT_SLACK,
      `bar heights ${heights} vs ${a.toFixed(1)} × ${values}`,
    ),
  );
  assert.ok(count(ERROR_BAR_COLOR, accuracy) >= 20, 'the error bar is drawn');

  keepWork = false;
  console.log(`screenshot and checks took ${Math.round(performance.now() - started)} ms`);
});

test('a series with no data draws no pixels of its colour', async () => {
  const shot = await shoot('empty-series', {
    title: 'Empty series',
    generatedAt: '2026-01-01T00:00:00Z',
    tables: [],
    charts: [
      {
        kind: 'line',
        id: 'partial',
        title: 'one series empty, one drawn',
        xLabel: 'step',
        yLabel: 'value',
        series: [
          { name: 'gone', points: [{ x: 1, y: NaN }] },
          { name: 'kept', points: ramp(20, (i) => i * i) },
        ],
      },
    ],
  });
  keepWork = true;
  boxOf(shot, 'partial');
  assert.equal(pixelsOf(shot.png, PALETTE[0]).length, 0, `no ${PALETTE[0]} pixel anywhere`);
  const kept = pixelsOf(shot.png, PALETTE[1]).length;
  assert.ok(kept >= MIN_SERIES_PIXELS, `the other series still draws (${kept} pixels)`);
  keepWork = false;
});
