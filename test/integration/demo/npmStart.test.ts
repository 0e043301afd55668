// `npm start` end to end: the demo runs SFT → GRPO → held-out evaluation as Temporal workflows (on the
// test command's shared dev server), GRPO raises held-out accuracy over the SFT model, and the HTML report
// it writes renders with every plot drawn (a headless-Chromium screenshot, read pixel by pixel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAR_COLOR, PALETTE } from '../../../core/metrics/svgChart.ts';
import { findChromium, pixelsOf, screenshotHtml } from '../report/chromium.ts';
import { runScript } from '../runScript.ts';

/** Two charts per row, six rows of charts below the tables. */
const VIEWPORT = { width: 1400, height: 3200 };
/** A line across a chart's plot area gives several hundred pixels of its colour. */
const MIN_LINE_PIXELS = 150;
/** The demo's whole budget is 10 minutes on 2 cores; a loaded CI machine gets some slack. */
const DEMO_TIMEOUT_MS = 20 * 60_000;

test(
  'npm start: SFT → GRPO raises held-out accuracy, and the report renders its plots',
  { timeout: DEMO_TIMEOUT_MS },
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'reasonloop-demo-'));
    try {
      const { code, stdout, stderr } = await runScript(['demo/main.ts', '--out', out], 'demo');
      assert.equal(code, 0, `demo failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
      const line = /held-out greedy accuracy: before GRPO ([\d.]+) → after GRPO ([\d.]+)/.exec(stdout);
      assert.ok(line, `the demo prints the before/after accuracy:\n${stdout.slice(-2000)}`);
      const [before, after] = [Number(line[1]), Number(line[2])];
      assert.ok(after > before, `greedy accuracy after GRPO (${after}) must beat before (${before})`);
      assert.match(stdout, /report: .*report\.html/);

      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      const acc = (name: string) =>
        results.evals.find((e: { name: string }) => e.name === name).summary.accuracy as number;
      assert.ok(
        acc('rl-sampled') > acc('sft-sampled'),
        `sampled: ${acc('sft-sampled')} → ${acc('rl-sampled')}`,
      );
      assert.ok(acc('sft-greedy') > acc('base-greedy'), 'SFT beats the random model');
      assert.equal(results.histories.rl.length, results.rl.step, 'every GRPO step has its metrics');
      assert.equal(results.histories.sft.length, results.sft.step, 'every SFT step has its metrics');

      const reportPath = join(out, 'report.html');
      assert.ok(existsSync(reportPath));
      const bin = findChromium();
      assert.ok(bin, 'no headless browser found: install one with `apt-get install chromium`');
      const shotDir = mkdtempSync(join(out, 'shot-'));
      const shot = await screenshotHtml(bin, readFileSync(reportPath, 'utf8'), shotDir, VIEWPORT);
      const lineCharts = [
        'sft-loss',
        'grpo-reward',
        'grpo-accuracy',
        'grpo-length',
        'grpo-kl',
        'grpo-entropy',
        'grpo-clip',
        'grpo-timing',
        'grpo-throughput',
      ];
      for (const id of lineCharts) {
        const box = shot.boxes.get(`chart-${id}`);
        assert.ok(box, `chart-${id} is laid out`);
        assert.ok(box.top + box.height <= shot.png.height, `chart-${id} fits the screenshot`);
        // Two series of one chart may lie on top of each other (reward with and without its tiny KL
        // term), so the lines of a chart are counted together.
        const drawn = pixelsOf(shot.png, PALETTE[0], box).length + pixelsOf(shot.png, PALETTE[1], box).length;
        assert.ok(drawn >= MIN_LINE_PIXELS, `chart-${id}: ${drawn} pixels of its series' colours`);
      }
      for (const id of ['heldout-accuracy', 'stage-time']) {
        const box = shot.boxes.get(`chart-${id}`)!;
        assert.ok(pixelsOf(shot.png, BAR_COLOR, box).length >= MIN_LINE_PIXELS, `chart-${id} draws its bars`);
      }

      // The report links to the GRPO run's rollout browser, which shows the newest step's responses.
      const link = /<nav class="links"><ul><li><a href="([^"]+)">rollouts of ([^ ]+) \((\d+) steps\)</.exec(
        readFileSync(reportPath, 'utf8'),
      );
      assert.ok(link, 'the report links to the rollout browser');
      assert.equal(link[2], results.rl.runId);
      const browser = await screenshotHtml(
        bin,
        readFileSync(join(out, link[1]), 'utf8'),
        mkdtempSync(join(out, 'shot-')),
        { width: 1400, height: 900 },
        { measure: '[id^="resp-"]' },
      );
      const count = /id="count"[^>]*>step (\d+) · showing (\d+) of (\d+) responses</.exec(browser.dom);
      assert.ok(count, 'the browser says what it shows');
      assert.equal(Number(count[1]), results.rl.step, 'the newest step by default');
      assert.equal(browser.boxes.size, Number(count[3]), 'a card per response of the step');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
