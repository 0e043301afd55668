import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReportData } from '../../../core/metrics/reportData.ts';
import { formatCell, renderReport, writeReport } from '../../../core/metrics/report.ts';
import { BAD_VALUES, assertWellFormed } from './wellFormed.ts';

const evil = '<script>alert(1)</script>&"';
const escapedEvil = '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;';

const data = (over: Partial<ReportData> = {}): ReportData => ({
  title: 'demo run',
  subtitle: 'tiny model',
  generatedAt: '2026-11-25T12:00:00Z',
  tables: [
    { title: 'before / after', columns: ['metric', 'before', 'after'], rows: [['accuracy', 0.1234, 0.5]] },
  ],
  charts: [
    {
      kind: 'line',
      id: 'reward',
      title: 'reward',
      xLabel: 'step',
      yLabel: 'r',
      series: [{ name: 'a', points: [{ x: 0, y: 1 }] }],
    },
    {
      kind: 'bar',
      id: 'acc_by-arm',
      title: 'accuracy',
      yLabel: 'acc',
      bars: [{ label: 'T=1', value: 0.4, low: 0.3, high: 0.5 }],
    },
  ],
  notes: ['seeds 0–2'],
  ...over,
});

test('formatCell: integers as they are, others to 3 significant digits, never cutting the integer part', () => {
  assert.equal(formatCell(42), '42');
  assert.equal(formatCell(-7), '-7');
  assert.equal(formatCell(1234.56), '1235');
  assert.equal(formatCell(12.345), '12.3');
  assert.equal(formatCell(1.23456), '1.23');
  assert.equal(formatCell(0.123456), '0.123');
  assert.equal(formatCell(0.0123456), '0.0123');
  assert.equal(formatCell(-0.5), '-0.500');
  assert.equal(formatCell(0.000123456), '1.23e-4');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell(-Infinity), '−∞');
  assert.equal(formatCell('0.5 [0.4, 0.6]'), '0.5 [0.4, 0.6]');
});

test('the report is one well-formed, self-contained document with every chart wrapped by id', () => {
  const html = renderReport(data());
  assertWellFormed(html, { html: true });
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<figure class="chart" id="chart-reward"><svg /);
  assert.match(html, /<figure class="chart" id="chart-acc_by-arm"><svg /);
  assert.match(html, /<td class="num">0.123<\/td><td class="num">0.500<\/td>/);
  assert.match(html, /<li>seeds 0–2<\/li>/);
  // Nothing is fetched when it opens: no script, no external stylesheet, font, image or import.
  assert.doesNotMatch(html, /<script|<link|src=|href=|@import|url\(/i);
  // SVG namespaces are the only URLs, and they are identifiers, not fetched.
  assert.deepEqual([...new Set(html.match(/https?:\/\/[^"\s]+/g))], ['http://www.w3.org/2000/svg']);
  assert.doesNotMatch(html.replace(/<style>[\s\S]*<\/style>/, ''), BAD_VALUES);
});

test('every text field is escaped', () => {
  const html = renderReport({
    title: evil,
    subtitle: evil,
    generatedAt: evil,
    tables: [{ title: evil, columns: [evil], rows: [[evil]] }],
    charts: [{ kind: 'bar', id: 'x', title: evil, yLabel: evil, bars: [{ label: evil, value: 1 }] }],
    notes: [evil],
  });
  assert.ok(!html.includes('<script'));
  // title (twice: <title> and <h1>), subtitle, generated, table title, column, cell, note = 8; the chart
  // adds its title (twice), y label, bar label and bar tooltip.
  assert.equal(html.split(escapedEvil).length - 1, 13);
  assertWellFormed(html, { html: true });
});

test('bad input is refused with the field that is wrong', () => {
  const [line] = data().charts;
  assert.throws(
    () => renderReport(data({ charts: [{ ...line!, id: 'a b' }] })),
    /report.charts\[0\].id must match .*"a b"/,
  );
  assert.throws(
    () => renderReport(data({ charts: [line!, line!] })),
    /report.charts\[1\].id "reward" is used by an earlier chart/,
  );
  assert.throws(
    () => renderReport(data({ tables: [{ title: 't', columns: ['a', 'b'], rows: [[1, 2], [3]] }] })),
    /report.tables\[0\] \("t"\): row 1 has 1 cells, expected 2/,
  );
});

test('writeReport creates the folder and writes what renderReport renders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  try {
    const path = writeReport(join(dir, 'a', 'b', 'report.html'), data());
    assert.equal(readFileSync(path, 'utf8'), renderReport(data()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
