/**
 * Answer extraction: finds the final answer in a model output (or a gold solution), in the order a reader
 * would: the last `\boxed{}`/`\fbox{}`, an `<answer>` tag, a "final answer is …" phrase, a GSM8K `#### n`
 * line, the last LaTeX span, and — as a configurable fallback — the last plain number.
 */
import { matchBrace } from './braces.ts';
import { MAX_BRACE_DEPTH, MAX_SCAN_CHARS } from './limits.ts';

/** Which notations to look for: LaTeX (boxed, math spans), plain expressions/numbers, or both. */
export type ExtractionMode = 'latex' | 'expr' | 'latex+expr';

export type AnswerSource =
  | 'boxed'
  | 'answer-tag'
  | 'final-answer'
  | 'gsm8k'
  | 'answer-phrase'
  | 'latex-span'
  | 'whole-text'
  | 'last-number';

export interface ExtractOptions {
  mode?: ExtractionMode;
  /** Take the last number in plain text when nothing better is found (default true in expr modes). */
  lastNumberFallback?: boolean;
  /**
   * Read an unclosed last `\boxed{` to the end of the text (default false: in a model output it means the
   * answer was cut off, so there is none; gold solutions get the benefit of the doubt).
   */
  acceptUnclosedBox?: boolean;
}

export interface ExtractedAnswer {
  /** The answer text, still in LaTeX; several joined answers are separated by `, `. */
  text: string;
  source: AnswerSource;
}

const BOX_COMMANDS = ['\\boxed', '\\fbox'] as const;

/**
 * Text allowed between two boxed answers for them to count as one multi-part answer
 * ("\boxed{1} and \boxed{2}", "\boxed{(2,2)} \quad\text{and}\quad \boxed{(6,2)}"); anything else means
 * the earlier box was a draft and only the last counts.
 */
const CONNECTOR_MAX_CHARS = 60;

/** Longest prediction taken whole as an answer when it has no markup at all. */
const BARE_ANSWER_MAX_CHARS = 100;

/** Two backslashes before a command name: LaTeX that was escaped once too often. */
const DOUBLED_BACKSLASH = /(?<!\\)\\\\(?=[a-zA-Z])/g;

export function extractAnswer(output: string, options: ExtractOptions = {}): ExtractedAnswer | undefined {
  const mode = options.mode ?? 'latex+expr';
  const latex = mode !== 'expr';
  const expr = mode !== 'latex';
  const tail = output.length > MAX_SCAN_CHARS ? output.slice(-MAX_SCAN_CHARS) : output;
  // Doubly escaped LaTeX ("\\boxed{\\frac…}", from JSON written twice) reads as the singly escaped form.
  const text = tail.replace(DOUBLED_BACKSLASH, '\\');

  const tagged = lastAnswerTag(text);
  if (tagged !== undefined) {
    const inner = extractAnswer(tagged, { ...options, lastNumberFallback: false });
    return { text: inner?.text ?? tagged.trim(), source: 'answer-tag' };
  }
  const final = finalAnswerSegment(text);
  if (latex) {
    const boxed = lastBoxed(text);
    if (boxed?.unclosed && !options.acceptUnclosedBox) return undefined;
    // A "final answer is …" sentence after the last box supersedes it.
    if (boxed !== undefined && !(final !== undefined && final.start > boxed.end)) {
      return { text: boxed.text, source: 'boxed' };
    }
  }
  if (final !== undefined) {
    const found =
      (latex ? lastLatexSpans(final.text)?.text : undefined) ??
      (expr ? leadingNumberOrExpr(final.text) : undefined);
    if (found !== undefined) return { text: found, source: 'final-answer' };
  }
  if (expr) {
    const gsm = /####\s*([-$€£]?\s*[-\d.,]+)/.exec(text);
    if (gsm)
      return { text: numberText(gsm[1].replace(/[$€£\s]/g, '').replace(/[.,]$/, '')), source: 'gsm8k' };
  }
  const phrase = answerPhraseSegment(text);
  const choice =
    phrase === undefined ? undefined : /^\s*(?:\(\s*([A-E])\s*\)|([A-E]))(?![a-zA-Z])/.exec(phrase);
  if (choice) return { text: choice[1] ?? choice[2], source: 'answer-phrase' };
  if (phrase !== undefined) {
    const found =
      (latex ? lastLatexSpans(phrase)?.text : undefined) ?? (expr ? leadingNumberOrExpr(phrase) : undefined);
    if (found !== undefined) return { text: found, source: 'answer-phrase' };
  }
  const span = latex ? lastLatexSpans(text) : undefined;
  // "3\sqrt{13}" with no markup is an answer, not a "3" followed by noise.
  if (latex && span === undefined && isBareLatexAnswer(text))
    return { text: text.trim(), source: 'whole-text' };
  if (expr) {
    const whole = wholeTextExpression(text);
    if (whole !== undefined && span === undefined) return { text: whole, source: 'whole-text' };
    if (options.lastNumberFallback ?? true) {
      const num = lastNumber(text);
      // A number after the last math span is the later statement ("… $x$ is 34.").
      if (num !== undefined && (span === undefined || num.end > span.end)) {
        return { text: num.text, source: 'last-number' };
      }
    }
  }
  if (span !== undefined) return { text: span.text, source: 'latex-span' };
  return undefined;
}

/** A short text that is only mathematics ("\\frac{10}{9}", "x^2+1"): no prose words outside commands. */
function isBareLatexAnswer(text: string): boolean {
  const s = text.trim();
  if (s.length === 0 || s.length > BARE_ANSWER_MAX_CHARS) return false;
  const withoutText = s.replace(/\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}/g, ' ');
  return !/[a-zA-Z]{3,}/.test(withoutText.replace(/\\[a-zA-Z]+/g, ' '));
}

/** Content of the last `<answer>…</answer>`, if any. */
function lastAnswerTag(text: string): string | undefined {
  const close = text.lastIndexOf('</answer>');
  if (close < 0) return undefined;
  const open = text.lastIndexOf('<answer>', close);
  if (open < 0) return undefined;
  return text.slice(open + '<answer>'.length, close);
}

interface Box {
  start: number;
  end: number;
  content: string;
  unclosed: boolean;
}

/** All `\boxed{…}` / `\fbox{…}` / `\boxed 5` occurrences, in order. Unclosed ones run to the end of the text. */
export function findBoxes(text: string): Box[] {
  const boxes: Box[] = [];
  let i = 0;
  while (i < text.length) {
    let at = -1;
    let cmd = '';
    for (const c of BOX_COMMANDS) {
      const k = text.indexOf(c, i);
      if (k >= 0 && (at < 0 || k < at)) {
        at = k;
        cmd = c;
      }
    }
    if (at < 0) break;
    let j = at + cmd.length;
    if (/[a-zA-Z]/.test(text[j] ?? '')) {
      i = j; // \boxedfoo is some other command
      continue;
    }
    while (text[j] === ' ') j++;
    if (text[j] === '{') {
      const end = matchBrace(text, j, MAX_BRACE_DEPTH);
      if (end < 0) {
        boxes.push({ start: at, end: text.length, content: text.slice(j + 1), unclosed: true });
        break;
      }
      boxes.push({ start: at, end, content: text.slice(j + 1, end - 1), unclosed: false });
      i = end;
    } else {
      // `\boxed 5`: the box holds the next token
      const m = /^[^\s$.,;]+/.exec(text.slice(j));
      if (m) boxes.push({ start: at, end: j + m[0].length, content: m[0], unclosed: false });
      i = j + (m ? m[0].length : 0);
    }
  }
  return boxes;
}

/** The last boxed answer, joined with the boxes just before it when only a connector separates them. */
function lastBoxed(text: string): { text: string; end: number; unclosed: boolean } | undefined {
  const boxes = findBoxes(text);
  if (boxes.length === 0) return undefined;
  const picked = [boxes[boxes.length - 1]];
  for (let k = boxes.length - 2; k >= 0; k--) {
    if (!isConnector(text.slice(boxes[k].end, picked[0].start))) break;
    picked.unshift(boxes[k]);
  }
  const last = picked[picked.length - 1];
  return { text: picked.map((b) => b.content.trim()).join(', '), end: last.end, unclosed: last.unclosed };
}

/** Whether the text between two answers joins them into one answer ("and", "or", commas, spacing). */
function isConnector(between: string): boolean {
  if (between.length > CONNECTOR_MAX_CHARS) return false;
  const plain = between
    .replace(/\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\(?:quad|qquad|,|;|!|\\)|\$|\\\(|\\\)|\\\[|\\\]/g, ' ')
    .trim();
  if (/^[\s,;.+&~-]*$/.test(plain)) return true;
  return /\b(?:and|or)\b/i.test(plain);
}

/** Text after "final answer … is" / "Final Answer:", up to "I hope" or the end. */
function finalAnswerSegment(text: string): { text: string; start: number } | undefined {
  const re = /final answer(?:[^\n]{0,100}?\bis\b|\s*:)/gi;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m;
  if (!last) return undefined;
  let seg = text.slice(last.index + last[0].length);
  const hope = seg.search(/I hope/i);
  if (hope >= 0) seg = seg.slice(0, hope);
  // "Final Answer: The largest $n$ is 34." — the answer follows the last "is".
  const is = /^[^\n]{0,100}?\bis\b:?/.exec(seg);
  if (last[0].trimEnd().endsWith(':') && is) seg = seg.slice(is[0].length);
  return { text: seg, start: last.index };
}

/** Text after the last "answer is" / "answer:" (within 50 characters of the answer). */
function answerPhraseSegment(text: string): string | undefined {
  const re = /\banswer\b(?:\s+is)?\s*:?/gi;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m;
  if (!last) return undefined;
  const seg = text.slice(last.index + last[0].length, last.index + last[0].length + 200);
  const firstMath = seg.search(/\$|\\\[|\\\(|\d|\(?\b[A-E]\b\)?/);
  if (firstMath < 0 || firstMath > 50) return undefined;
  return seg;
}

interface Span {
  text: string;
  start: number;
  end: number;
}

/** All math spans: `$$…$$` and `\[…\]` (may span lines), `$…$` and `\(…\)` (one line only). */
export function latexSpans(text: string): Span[] {
  const spans: Span[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\' && (text[i + 1] === '[' || text[i + 1] === '(')) {
      const close = text[i + 1] === '[' ? '\\]' : '\\)';
      const end = text.indexOf(close, i + 2);
      if (end < 0) {
        i += 2;
        continue;
      }
      const inner = text.slice(i + 2, end);
      if (close === '\\)' && inner.includes('\n')) {
        i += 2;
        continue;
      }
      spans.push({ text: inner, start: i, end: end + 2 });
      i = end + 2;
      continue;
    }
    if (ch === '\\') {
      i += 2; // skips `\$`
      continue;
    }
    if (ch === '$') {
      const display = text[i + 1] === '$';
      const open = display ? 2 : 1;
      const end = findClosingDollar(text, i + open, display);
      if (end < 0) {
        i += open;
        continue;
      }
      const inner = text.slice(i + open, end);
      if (!display && inner.includes('\n')) {
        i += open;
        continue;
      }
      spans.push({ text: inner, start: i, end: end + open });
      i = end + open;
      continue;
    }
    i++;
  }
  return spans.filter((s) => s.text.trim().length > 0);
}

function findClosingDollar(text: string, from: number, display: boolean): number {
  for (let k = from; k < text.length; k++) {
    if (text[k] === '\\') {
      k++;
      continue;
    }
    if (text[k] === '$' && (!display || text[k + 1] === '$')) return k;
  }
  return -1;
}

/** The last math span, joined with earlier ones that only a connector separates ("$21,16$ or $11$"). */
function lastLatexSpans(text: string): Span | undefined {
  const spans = latexSpans(text);
  if (spans.length === 0) return undefined;
  const picked = [spans[spans.length - 1]];
  for (let k = spans.length - 2; k >= 0; k--) {
    const between = text.slice(spans[k].end, picked[0].start);
    if (!/^\s*(?:,?\s*(?:and|or)|,)\s*$/i.test(between)) break;
    picked.unshift(spans[k]);
  }
  const last = picked[picked.length - 1];
  return { text: picked.map((s) => s.text.trim()).join(', '), start: picked[0].start, end: last.end };
}

/**
 * A number: thousands groups ("1,000.99", "1 000"), decimal comma ("2,74"), leading-dot decimals (".4"),
 * optional sign, an optional currency sign before it and a percent word after it. It must start the
 * text or follow a space, `=`, `(` or a currency sign, so "AZYUK2A" has no number.
 */
const NUMBER_RE =
  /(?:^|(?<=[\s=(:*]))[$€£¥₹]?(-?(?:[1-9]\d{0,2}(?:[ ,]\d{3})+(?:\.\d+)?|\d+[.,]\d+|\.\d+|\d+))(\s*(?:%|\\%|percent(?:age)?\b|pct\b))?/g;

interface Found {
  text: string;
  end: number;
}

/** Arithmetic in plain text ("2/3", "(1/2) * (4/3)"): starts with a digit, has an operator, ends the phrase. */
const PLAIN_EXPR_RE =
  /(?:^|(?<=[\s=]))(-?\(?-?\d[\d.\s+\-*/^()×÷]{0,60}[+\-*/^×÷][\d.\s+\-*/^()×÷]{0,60}\d\)?)(?=[.,:\s)$]|$)/g;

/** How far from the end plain arithmetic is looked for (and the longest such answer taken). */
const EXPR_SCAN_CHARS = 400;

/** The last number or plain arithmetic expression, whichever ends later (the longer one on a tie). */
function lastNumber(text: string): Found | undefined {
  let last: RegExpExecArray | null = null;
  NUMBER_RE.lastIndex = 0;
  for (let m = NUMBER_RE.exec(text); m; m = NUMBER_RE.exec(text)) last = m;
  // Expressions are searched near the end only: the pattern is quadratic in the length of a run.
  const offset = Math.max(0, text.length - EXPR_SCAN_CHARS);
  const tail = text.slice(offset);
  let lastExpr: RegExpExecArray | null = null;
  PLAIN_EXPR_RE.lastIndex = 0;
  for (let m = PLAIN_EXPR_RE.exec(tail); m; m = PLAIN_EXPR_RE.exec(tail)) lastExpr = m;
  const num = last && {
    text: numberText(last[1]) + (last[2] ? '\\%' : ''),
    end: last.index + last[0].length,
  };
  const ex = lastExpr && { text: lastExpr[1].trim(), end: offset + lastExpr.index + lastExpr[0].length };
  if (ex && (!num || ex.end >= num.end)) return ex;
  return num ?? undefined;
}

/** "1,000.99" → "1000.99", "2,74" → "2.74", "1 000" → "1000". */
function numberText(raw: string): string {
  if (/^-?[1-9]\d{0,2}(?:[ ,]\d{3})+(?:\.\d+)?$/.test(raw)) return raw.replace(/[ ,]/g, '');
  return raw.replace(',', '.');
}

/** A plain arithmetic expression or number that starts the segment ("2/3.", "34.", "1,000 dollars"). */
function leadingNumberOrExpr(segment: string): string | undefined {
  const s = segment
    .slice(0, EXPR_SCAN_CHARS)
    .trim()
    .replace(/^\*\*|\*\*$/g, '');
  const ex =
    /^[$€£]?(-?\(?-?\d[\d.\s+\-*/^()×÷]{0,60}[+\-*/^×÷][\d.\s+\-*/^()×÷]{1,60}\)?)(?=[.,:\s)$]|$)/.exec(s);
  if (ex) return ex[1].trim();
  NUMBER_RE.lastIndex = 0;
  const m = NUMBER_RE.exec(s);
  if (m && m.index === 0) return numberText(m[1]) + (m[2] ? '\\%' : '');
  return undefined;
}

/** The whole text, when it is short and nothing but an arithmetic expression (`10/9`, `-5`, `1 000`). */
function wholeTextExpression(text: string): string | undefined {
  const s = text.trim();
  if (s.length > 200 || !/^[-+\d\s.,/*^()×÷%]+$/.test(s) || !/\d/.test(s)) return undefined;
  if (/^-?[\d.,\s]+%?$/.test(s)) return leadingNumberOrExpr(s);
  return s;
}
