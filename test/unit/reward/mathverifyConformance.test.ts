/**
 * Conformance with Math-Verify (huggingface/Math-Verify): every case of its exported test suite, gold
 * first, with the extraction mode and options its test function used. Agreement must be ≥ 97%, and the
 * disagreements must be exactly the ones listed (with reasons) in docs/verifier.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, sharedDataDir } from '../../../core/data/paths.ts';
import type { ExtractionMode } from '../../../core/reward/verify/extract.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

/** The agreement the issue asks for. */
const MIN_AGREEMENT = 0.97;
/** Generous per-case limit: this test is about semantics, not speed, on a possibly busy machine. */
const CASE_TIME_LIMIT_MS = 5_000;

interface Case {
  gold: string;
  pred: string;
  expected?: number;
  result?: number;
  _file: string;
  _test: string;
  precision?: number;
  strict?: boolean;
  allow_set_relation_comp?: boolean;
}

/** Math-Verify's test functions extract with: expr only, latex only, or both (the default). */
function modeOf(c: Case): ExtractionMode {
  if (c._test === 'test_number_extraction') return 'expr';
  if (c._test === 'test_latex_notation') return 'latex';
  return 'latex+expr';
}

/** Line numbers listed in docs/verifier.md's table of known disagreements. */
function documentedDisagreements(): Set<number> {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'verifier.md'), 'utf8');
  const section = doc.split('## Disagreements with Math-Verify')[1]?.split('\n## ')[0] ?? '';
  return new Set([...section.matchAll(/^\|\s*(\d+)\s*\|/gm)].map((m) => Number(m[1])));
}

test('agrees with Math-Verify on at least 97% of its cases; every disagreement is documented', () => {
  const path = join(sharedDataDir(), 'verifier', 'mathverify_cases.jsonl');
  const cases = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Case);
  assert.equal(cases.length, 268);
  const disagreements: number[] = [];
  cases.forEach((c, i) => {
    const v = verifyAnswer(c.gold, c.pred, {
      mode: modeOf(c),
      precision: c.precision,
      strict: c.strict,
      allowSetRelationComp: c.allow_set_relation_comp,
      timeLimitMs: CASE_TIME_LIMIT_MS,
    });
    const expected = (c.expected ?? c.result) === 1;
    if (v.equal !== expected) disagreements.push(i + 1);
  });
  const agreement = 1 - disagreements.length / cases.length;
  assert.ok(
    agreement >= MIN_AGREEMENT,
    `agreement ${(agreement * 100).toFixed(1)}% (lines ${disagreements.join(', ')})`,
  );
  assert.deepEqual(
    disagreements,
    [...documentedDisagreements()].sort((a, b) => a - b),
    'the disagreements (line numbers in mathverify_cases.jsonl) must be exactly those listed in docs/verifier.md',
  );
});
