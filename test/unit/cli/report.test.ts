/** `reasonloop report` end to end on a local folder store: one chart per metric, runs as series, errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { lastValue, metricNames } from '../../../cli/commands/report.ts';
import { writeStepMetrics } from '../../../core/metrics/history.ts';
import { ROLLOUT_RECORDS_FORMAT, rolloutRecordsKey } from '../../../core/metrics/rolloutRecords.ts';
import { LocalFolderStore } from '../../../core/store/index.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-report-cli-'));
const STORE = join(DIR, 'store');

describe('reasonloop report', () => {
  before(async () => {
    const store = new LocalFolderStore(STORE);
    // An RL run logged at two checkpoints, the second chunk re-run (step 2 recorded twice: newer wins).
    await writeStepMetrics(store, 'rl-run', 2, [
      { step: 1, metrics: { meanReward: 0.1, loss: 2 } },
      { step: 2, metrics: { meanReward: 0.2, loss: 1.5 } },
    ]);
    await writeStepMetrics(store, 'rl-run', 4, [
      { step: 2, metrics: { meanReward: 0.25, loss: 1.5 } },
      { step: 3, metrics: { meanReward: 0.3, loss: 1.2 } },
      { step: 4, metrics: { meanReward: 0.45, loss: 1.0, 'kl/mean': 0.01 } },
    ]);
    // An SFT run: a loss and a learning rate, no reward.
    await writeStepMetrics(store, 'sft-run', 3, [
      { step: 1, metrics: { loss: 3, lr: 1e-5 } },
      { step: 2, metrics: { loss: 2.5, lr: 1e-5 } },
      { step: 3, metrics: { loss: 2.25, lr: 1e-5 } },
    ]);
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  it('writes one chart per metric name, with every run as a series, and a table of last values', async () => {
    const out = join(DIR, 'out', 'report.html');
    const r = await capture([
      'report',
      '--store',
      STORE,
      '--run',
      'rl-run',
      '--run',
      'sft-run',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, out);
    const html = readFileSync(out, 'utf8');
    const chartIds = [...html.matchAll(/id="chart-([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(chartIds, ['m0-kl_mean', 'm1-loss', 'm2-lr', 'm3-meanReward']);
    assert.ok(html.includes('rl-run') && html.includes('sft-run'));
    assert.ok(html.includes('kl/mean'));
    // The table of last values: rl-run's reward is the step-4 value; sft-run has none (an empty cell).
    const row = html.match(/<tr><td>meanReward<\/td>(.*?)<\/tr>/)?.[1] ?? '';
    assert.match(row, /0\.45/);
    assert.match(row, /<td[^>]*><\/td>/);
  });

  it("links each RL run's rollout browser, written beside the report with the run's recorded steps", async () => {
    const store = new LocalFolderStore(STORE);
    for (const step of [1, 2, 3, 4]) {
      const records = { format: ROLLOUT_RECORDS_FORMAT, runId: 'rl-run', step, prompts: [], responses: [] };
      await store.put(rolloutRecordsKey('rl-run', step), new TextEncoder().encode(JSON.stringify(records)));
    }
    const out = join(DIR, 'with-rollouts', 'report.html');
    const argv = ['report', '--store', STORE, '--run', 'rl-run', '--run', 'sft-run', '--out', out];
    const r = await capture([...argv, '--rollout-steps', '3']);
    assert.equal(r.code, 0, r.err);
    const html = readFileSync(out, 'utf8');
    const links = [...html.matchAll(/<li><a href="([^"]+)">([^<]+)<\/a><\/li>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      links,
      [['report-rollouts-rl-run.html', 'rollouts of rl-run (3 steps)']],
      'none for SFT',
    );
    const page = readFileSync(join(DIR, 'with-rollouts', 'report-rollouts-rl-run.html'), 'utf8');
    const data = JSON.parse(
      /<script type="application\/json" id="rollout-data">(.*?)<\/script>/s.exec(page)![1],
    );
    assert.deepEqual(
      data.steps.map((s: { step: number }) => s.step),
      [1, 3, 4],
      'spread over the run: first and last',
    );
    const bad = await capture([...argv, '--rollout-steps', '0']);
    assert.equal(bad.code, EXIT_USAGE);
    assert.match(bad.err, /--rollout-steps must be a positive integer \(got 0\)/);
  });

  it('an unknown run is named and nothing is written', async () => {
    const out = join(DIR, 'never.html');
    const r = await capture([
      'report',
      '--store',
      STORE,
      '--run',
      'rl-run',
      '--run',
      'typo-run',
      '--out',
      out,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /run typo-run: no metrics in store/);
    assert.throws(() => readFileSync(out));
  });

  it('usage errors exit 2 and name the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['report', '--run', 'a', '--out', 'x.html'], /--store is required/],
      [['report', '--store', STORE, '--out', 'x.html'], /--run is required/],
      [['report', '--store', STORE, '--run', 'a'], /--out is required/],
      [['report', '--store', STORE, '--run', 'a', '--run', 'a', '--out', 'x.html'], /--run a is given twice/],
      [
        ['report', '--store', 'ftp://x/y', '--run', 'a', '--out', 'x.html'],
        /--store: store URL ftp:\/\/x\/y: unsupported scheme/,
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await capture(argv);
      assert.equal(r.code, EXIT_USAGE, argv.join(' '));
      assert.match(r.err, message);
    }
  });

  it('metric names are the sorted union; the last value skips steps without it', () => {
    const history = [
      { step: 1, metrics: { a: 1, b: 5 } },
      { step: 2, metrics: { a: 2, b: Number.NaN } },
    ];
    assert.deepEqual(
      metricNames([
        { runId: 'r', history },
        { runId: 's', history: [{ step: 1, metrics: { c: 0 } }] },
      ]),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(lastValue(history, 'a'), { step: 2, value: 2 });
    assert.deepEqual(lastValue(history, 'b'), { step: 1, value: 5 });
    assert.equal(lastValue(history, 'z'), undefined);
  });
});
