import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BarChart, LineChart, LineSeries } from '../../../core/metrics/reportData.ts';
import {
  BAR_COLOR,
  MAX_POINTS_WITH_MARKERS,
  PALETTE,
  barChartSvg,
  lineChartSvg,
} from '../../../core/metrics/svgChart.ts';
import { BAD_VALUES, assertWellFormed } from './wellFormed.ts';

const line = (series: LineSeries[], title = 'reward'): LineChart => ({
  kind: 'line',
  id: 'reward',
  title,
  xLabel: 'step',
  yLabel: 'mean reward',
  series,
});
const bar = (bars: BarChart['bars'], title = 'accuracy'): BarChart => ({
  kind: 'bar',
  id: 'acc',
  title,
  yLabel: 'accuracy',
  bars,
});
const ramp = (n: number, f = (i: number) => i): { x: number; y: number }[] =>
  Array.from({ length: n }, (_, i) => ({ x: i, y: f(i) }));

/** Every drawn polyline as [stroke colour, points]. */
function polylines(svg: string): [string, [number, number][]][] {
  return [...svg.matchAll(/<polyline points="([^"]*)"[^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => [
    m[2]!,
    m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  ]);
}

function checkSvg(svg: string, what: string): void {
  assert.doesNotThrow(() => assertWellFormed(svg), what);
  assert.doesNotMatch(svg, BAD_VALUES, what);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, what);
}

test('line and bar charts are well-formed and number-clean in every edge case', () => {
  const lines: [string, LineSeries[]][] = [
    ['no series', []],
    ['an empty series', [{ name: 'a', points: [] }]],
    ['a single point', [{ name: 'a', points: [{ x: 3, y: 0.5 }] }]],
    ['all-equal y', [{ name: 'a', points: ramp(5, () => 2) }]],
    [
      'all-zero y and x',
      [
        {
          name: 'a',
          points: [
            { x: 0, y: 0 },
            { x: 0, y: 0 },
          ],
        },
      ],
    ],
    ['negative values', [{ name: 'a', points: ramp(8, (i) => -i * 3.5) }]],
    [
      'NaN and infinite points',
      [
        {
          name: 'a',
          points: [
            { x: 0, y: NaN },
            { x: 1, y: 2 },
            { x: Infinity, y: 1 },
            { x: 2, y: -Infinity },
            { x: 3, y: 1 },
          ],
        },
      ],
    ],
    ['only non-finite points', [{ name: 'a', points: [{ x: NaN, y: NaN }] }]],
    [
      'huge and tiny values',
      [
        {
          name: 'a',
          points: [
            { x: 1e-9, y: 1e12 },
            { x: 2e-9, y: 3e12 },
          ],
        },
      ],
    ],
    [
      'many series',
      Array.from({ length: 14 }, (_, k) => ({ name: `s${k}`, points: ramp(40, (i) => i * k) })),
    ],
  ];
  for (const [what, series] of lines) checkSvg(lineChartSvg(line(series)), what);
  const bars: [string, BarChart['bars']][] = [
    ['no bars', []],
    ['one bar', [{ label: 'a', value: 0.5 }]],
    [
      'negative bars',
      [
        { label: 'a', value: -2 },
        { label: 'b', value: 3, low: 2, high: 4 },
      ],
    ],
    [
      'all zero',
      [
        { label: 'a', value: 0 },
        { label: 'b', value: 0 },
      ],
    ],
    [
      'NaN value and interval',
      [
        { label: 'a', value: NaN, low: 1, high: 2 },
        { label: 'b', value: 1, low: NaN, high: Infinity },
      ],
    ],
    ['only a low', [{ label: 'a', value: 1, low: 0.5 }]],
    [
      'long labels',
      Array.from({ length: 12 }, (_, i) => ({ label: `temperature ${i} with a long name`, value: i })),
    ],
  ];
  for (const [what, b] of bars) checkSvg(barChartSvg(bar(b)), what);
});

test('each series is drawn in its own palette colour, in order', () => {
  const svg = lineChartSvg(line([0, 1, 2].map((k) => ({ name: `s${k}`, points: ramp(5, (i) => i + k) }))));
  assert.deepEqual(
    polylines(svg).map(([c]) => c),
    PALETTE.slice(0, 3),
  );
  assert.equal(new Set(PALETTE).size, PALETTE.length, 'palette colours are distinct');
  assert.ok(PALETTE.every((c) => /^#[0-9a-f]{6}$/.test(c)));
});

test('an empty series keeps its colour slot but draws nothing in that colour', () => {
  const svg = lineChartSvg(
    line([
      { name: 'gone', points: [] },
      { name: 'kept', points: ramp(4) },
    ]),
  );
  assert.deepEqual(
    polylines(svg).map(([c]) => c),
    [PALETTE[1]],
  );
  assert.ok(!svg.includes(PALETTE[0]), 'no element uses the empty series colour');
  assert.match(svg, /gone \(no data\)/);
});

test('markers on sparse series only; non-finite points are skipped', () => {
  const sparse = lineChartSvg(line([{ name: 'a', points: ramp(MAX_POINTS_WITH_MARKERS) }]));
  assert.equal(sparse.match(/<circle /g)?.length, MAX_POINTS_WITH_MARKERS);
  const dense = lineChartSvg(line([{ name: 'a', points: ramp(MAX_POINTS_WITH_MARKERS + 1) }]));
  assert.equal(dense.match(/<circle /g), null);
  const holes = lineChartSvg(
    line([
      {
        name: 'a',
        points: [
          { x: 0, y: 0 },
          { x: 1, y: NaN },
          { x: 2, y: 2 },
        ],
      },
    ]),
  );
  assert.equal(polylines(holes)[0]![1].length, 2);
});

test('line geometry: x grows to the right, y grows upwards, linearly', () => {
  const svg = lineChartSvg(
    line([
      {
        name: 'a',
        points: [
          { x: 0, y: 0 },
          { x: 5, y: 5 },
          { x: 10, y: 10 },
        ],
      },
    ]),
  );
  const [[, pts]] = polylines(svg) as [[string, [number, number][]]];
  const [p0, p1, p2] = pts as [[number, number], [number, number], [number, number]];
  assert.ok(p2[0] > p0[0] && p2[1] < p0[1], `${pts}`);
  assert.ok(Math.abs(p1[0] - (p0[0] + p2[0]) / 2) < 0.02 && Math.abs(p1[1] - (p0[1] + p2[1]) / 2) < 0.02);
});

test('bars are proportional to their values from zero, error bars where an interval is given', () => {
  const svg = barChartSvg(
    bar([
      { label: 'a', value: 1, low: 0.5, high: 1.5 },
      { label: 'b', value: 2 },
      { label: 'c', value: 4, low: 3, high: 5 },
    ]),
  );
  const rects = [
    ...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="([^"]+)"/g),
  ];
  assert.equal(rects.length, 3);
  assert.ok(rects.every((m) => m[3] === BAR_COLOR));
  const [h1, h2, h4] = rects.map((m) => Number(m[2]));
  assert.ok(Math.abs(h2! / h1! - 2) < 0.01 && Math.abs(h4! / h1! - 4) < 0.01, `${h1} ${h2} ${h4}`);
  const errorBars = [...svg.matchAll(/<path class="error-bar" d="M([\d.]+) ([\d.]+)V([\d.]+)/g)];
  assert.equal(errorBars.length, 2);
  // The interval 0.5–1.5 around a bar of height h1 spans h1 pixels, centred on the bar's top.
  const [, , yLow, yHigh] = errorBars[0]!.map(Number);
  assert.ok(Math.abs(yLow! - yHigh! - h1!) < 0.02, `${yLow} ${yHigh} ${h1}`);
  const barTop = Number(rects[0]![1]);
  assert.ok(Math.abs((yLow! + yHigh!) / 2 - barTop) < 0.02);
});

test('a negative bar hangs below the zero line', () => {
  const svg = barChartSvg(
    bar([
      { label: 'up', value: 2 },
      { label: 'down', value: -2 },
    ]),
  );
  const [up, down] = [...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"/g)].map(
    (m) => ({
      y: Number(m[1]),
      h: Number(m[2]),
    }),
  );
  assert.ok(Math.abs(up!.y + up!.h - down!.y) < 0.02, 'both meet at zero');
  assert.ok(Math.abs(up!.h - down!.h) < 0.02);
});

test('all text is escaped', () => {
  const evil = '<script>alert(1)</script>&"\'';
  const l = lineChartSvg({ ...line([{ name: evil, points: ramp(3) }], evil), xLabel: evil, yLabel: evil });
  const b = barChartSvg({ ...bar([{ label: evil, value: 1 }], evil), yLabel: evil });
  for (const svg of [l, b]) {
    assert.ok(!svg.includes('<script'), 'no raw tag');
    assert.ok(svg.includes('&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;'));
    assertWellFormed(svg);
  }
});
