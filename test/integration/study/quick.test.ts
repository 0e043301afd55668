// `npm run study -- --quick`: every arm of the factor study runs once as Temporal workflows (on the test
// command's shared dev server) and the report states a verdict with an interval for every finding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARMS, FINDINGS } from '../../../study/arms.ts';
import { runScript } from '../runScript.ts';

/**
 * The quick study in CI, on the default task (long addition: its two SFT runs, 800 and 600 steps, are
 * most of it). It took 10.0 min in a fresh-clone `.ci/run` on 2 cores, 19 min at nice 19 beside another
 * test run (docs/study.md).
 */
const QUICK_STUDY_TIMEOUT_MS = 30 * 60_000;

test(
  'npm run study -- --quick runs every arm once and reports every finding',
  { timeout: QUICK_STUDY_TIMEOUT_MS },
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'reasonloop-study-'));
    try {
      const { code, stdout, stderr } = await runScript(['study/main.ts', '--quick', '--out', out], 'study');
      assert.equal(code, 0, `study failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      for (const arm of ARMS) {
        const seeds = results.arms[arm.id];
        assert.equal(seeds?.length, 1, `arm ${arm.id} ran once`);
        assert.ok(seeds[0].accuracy >= 0 && seeds[0].accuracy <= 1, `arm ${arm.id} accuracy in [0, 1]`);
        assert.ok(seeds[0].meanLength > 0, `arm ${arm.id} has responses`);
        assert.ok(seeds[0].meanLengthT1 > 0, `arm ${arm.id} has responses at T = 1.0`);
        assert.ok(
          seeds[0].reflectionRate >= 0 && seeds[0].reflectionRate <= 1,
          `arm ${arm.id} reflection rate`,
        );
        assert.ok(seeds[0].training?.responses > 0, `arm ${arm.id} training records read back`);
      }
      const summary = readFileSync(join(out, 'summary.md'), 'utf8');
      for (const f of FINDINGS) assert.ok(summary.includes(f.paper), `summary states "${f.paper}"`);
      const verdicts =
        summary.match(
          /\| (reproduced|same direction, not significant|not reproduced|opposite \(significant\)) \|/g,
        ) ?? [];
      assert.equal(verdicts.length, FINDINGS.length, 'a verdict for every finding');
      assert.ok(existsSync(join(out, 'report.html')));
      assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /Findings of the paper, in miniature/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
