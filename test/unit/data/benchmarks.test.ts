import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BENCHMARK_NAMES, loadBenchmark } from '../../../core/data/benchmarks.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

/** Row counts from ../shared/data/README.md. */
const EXPECTED_ROWS: Record<string, number> = {
  aime24: 30,
  aime25: 30,
  amc23: 40,
  gsm8k: 1319,
  minerva_math: 272,
  math500: 500,
  olympiadbench: 675,
};

test('every registered benchmark loads with all its rows and a non-empty answer', async () => {
  for (const name of BENCHMARK_NAMES) {
    const b = await loadBenchmark(name);
    assert.equal(b.problems.length, EXPECTED_ROWS[name], name);
    assert.equal(b.skipped.count, 0, `${name}: ${b.skipped.reasons.join('; ')}`);
    for (const p of b.problems) assert.ok(p.answer.length > 0 && p.problem.length > 0, `${name} ${p.id}`);
  }
});

test('answers are normalised to text and say where they came from', async () => {
  const amc = await loadBenchmark('amc23');
  assert.equal(amc.problems[0].answer, '27'); // stored as the float 27.0
  assert.deepEqual(amc.answerSources, { answer: 40 });
  const gsm = await loadBenchmark('gsm8k');
  assert.match(gsm.problems[0].answer, /^-?\d+(\.\d+)?$/);
  assert.deepEqual(gsm.answerSources, { 'answer (after ####)': 1319 });
  const minerva = await loadBenchmark('minerva_math');
  assert.deepEqual(minerva.answerSources, { 'solution (last \\boxed{})': 272 });
});

test('each benchmark gold answer verifies against itself boxed', async () => {
  for (const name of ['aime24', 'aime25', 'amc23', 'gsm8k', 'math500']) {
    for (const p of (await loadBenchmark(name)).problems) {
      const v = verifyAnswer(p.answer, `The answer is $\\boxed{${p.answer}}$.`);
      assert.ok(v.equal, `${name} ${p.id}: ${p.answer} (${v.reason})`);
    }
  }
});

test('unknown benchmark names are refused with the list of known ones', async () => {
  await assert.rejects(loadBenchmark('hmmt25'), /unknown benchmark "hmmt25" \(known: aime24, /);
});
