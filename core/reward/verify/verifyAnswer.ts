/**
 * The verifier's entry point: extract the answer from gold and prediction, normalise, parse and compare,
 * gold first. Never throws and never runs past its time limit by more than one bounded step: any failure
 * is "not equal" with the reason.
 */
import { compareValues, type CompareContext } from './compare.ts';
import { extractAnswer, type AnswerSource, type ExtractionMode } from './extract.ts';
import { DEFAULT_PRECISION, DEFAULT_TIME_LIMIT_MS, PARSE_CACHE_SIZE } from './limits.ts';
import { Lru } from './lru.ts';
import { normalizeAnswer, type NormalizedAnswer } from './normalize.ts';
import { buildValueWithin, type Value } from './value.ts';

export interface VerifyOptions {
  /** Notations to extract from both texts (default `latex+expr`). */
  mode?: ExtractionMode;
  /** Decimal places numbers must agree to (default 6, as Math-Verify). */
  precision?: number;
  /** Variable names must match (default true). */
  strict?: boolean;
  /** Accept a predicted inequality for a gold interval (default false, as Math-Verify). */
  allowSetRelationComp?: boolean;
  /** Take the prediction's last plain number when it has no marked answer (default true). */
  lastNumberFallback?: boolean;
  /** Wall-clock budget for this comparison (default 250 ms). */
  timeLimitMs?: number;
}

export interface Verdict {
  equal: boolean;
  reason: string;
  /** The answers as extracted and normalised (absent when none was found). */
  goldAnswer?: string;
  predAnswer?: string;
  predSource?: AnswerSource;
}

/**
 * Whole-text fallback for gold answers that carry no markup at all ("\frac{14}{3}", "x+1"): a dataset's
 * answer field is the answer, not prose. Predictions never get it (prose is not an answer).
 */
const GOLD_WHOLE_TEXT_MAX_CHARS = 200;

export function verifyAnswer(gold: string, pred: string, options: VerifyOptions = {}): Verdict {
  try {
    return verifyUnsafe(String(gold ?? ''), String(pred ?? ''), options);
  } catch (err) {
    return { equal: false, reason: `verifier error: ${(err as Error)?.message ?? String(err)}` };
  }
}

/** Markup that says where an answer is inside a longer text. */
const ANSWER_MARKUP = /\\boxed|\\fbox|\$|\\\(|\\\[|####|<answer>|\banswer\b/i;

/**
 * The gold answer: a short gold without any answer markup is the answer itself ("12\text{ and }13",
 * "\text{Evelyn}"); otherwise it is extracted like a prediction (an unclosed box is read to the end).
 */
function goldAnswer(goldText: string, mode: ExtractionMode): string | undefined {
  const trimmed = goldText.trim();
  if (mode !== 'expr' && trimmed.length <= GOLD_WHOLE_TEXT_MAX_CHARS && !ANSWER_MARKUP.test(trimmed))
    return trimmed;
  return extractAnswer(goldText, { mode, lastNumberFallback: true, acceptUnclosedBox: true })?.text;
}

function verifyUnsafe(goldText: string, predText: string, options: VerifyOptions): Verdict {
  const start = performance.now();
  const mode = options.mode ?? 'latex+expr';
  const goldRaw = goldAnswer(goldText, mode);
  if (goldRaw === undefined || goldRaw.trim() === '')
    return { equal: false, reason: 'no answer found in gold' };
  const predFound = extractAnswer(predText, { mode, lastNumberFallback: options.lastNumberFallback ?? true });
  if (predFound === undefined)
    return { equal: false, reason: 'no answer found in prediction', goldAnswer: goldRaw };

  const g = cachedNormalize(goldRaw);
  const p = cachedNormalize(predFound.text);
  const base = { goldAnswer: g.text, predAnswer: p.text, predSource: predFound.source };
  if (p.text === '') return { ...base, equal: false, reason: 'empty predicted answer' };
  if (g.text === p.text) return { ...base, equal: true, reason: 'identical after normalisation' };

  const ctx: CompareContext = {
    precision: options.precision ?? DEFAULT_PRECISION,
    strict: options.strict ?? true,
    allowSetRelationComp: options.allowSetRelationComp ?? false,
    deadline: start + (options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS),
  };
  const gv = cachedValue(g.text, ctx.deadline);
  const pv = cachedValue(p.text, ctx.deadline);
  const outcome = compareValues(gv, pv, ctx);
  if (!outcome.equal && g.percent && !p.percent && gv.kind === 'expr' && pv.kind === 'expr') {
    // "20%" is also answered by 0.2
    const asFraction = compareValues({ ...gv, json: ['Divide', gv.json, 100] }, pv, ctx);
    if (asFraction.equal)
      return { ...base, equal: true, reason: `${asFraction.reason} (as a fraction of 100)` };
  }
  return { ...base, ...outcome };
}

const values = new Lru<Value>(PARSE_CACHE_SIZE);
const normalized = new Lru<NormalizedAnswer>(PARSE_CACHE_SIZE);

/** Parsed value of a normalised answer, memoised (gold answers repeat for every rollout of a prompt). */
function cachedValue(text: string, deadline: number): Value {
  const hit = values.get(text);
  if (hit) return hit;
  const v = buildValueWithin(text, deadline);
  if (performance.now() > deadline) return v; // possibly cut short: do not remember it
  values.set(text, v);
  return v;
}

function cachedNormalize(raw: string): NormalizedAnswer {
  const hit = normalized.get(raw);
  if (hit) return hit;
  const n = normalizeAnswer(raw);
  normalized.set(raw, n);
  return n;
}
