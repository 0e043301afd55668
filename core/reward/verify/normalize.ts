/**
 * LaTeX answer normalisation: removes what does not change the value (styling, spacing, units, degree
 * signs, thousands separators, `$` delimiters, trailing punctuation) and rewrites variants to one
 * spelling (`\dfrac` → `\frac`, `\frac12` → `\frac{1}{2}`, `\geq` → `\ge`). Percent is reported
 * separately: `28\%` and `28` are the same answer, as in Math-Verify.
 */

export interface NormalizedAnswer {
  text: string;
  percent: boolean;
}

/**
 * Unit words dropped after a number ("125 miles", "35 cm", "0.06 yuan"). Plurals are matched by an
 * optional s/es. Kept short on purpose: a variable name must never be mistaken for a unit.
 */
const UNIT_WORDS = [
  'mm',
  'cm',
  'km',
  'm',
  'meter',
  'metre',
  'inch',
  'inches',
  'foot',
  'feet',
  'ft',
  'yard',
  'mile',
  'mi',
  'g',
  'kg',
  'mg',
  'gram',
  'kilogram',
  'pound',
  'lb',
  'lbs',
  'ounce',
  'oz',
  'ton',
  'tonne',
  's',
  'sec',
  'second',
  'minute',
  'min',
  'hour',
  'hr',
  'h',
  'day',
  'week',
  'month',
  'year',
  'l',
  'ml',
  'liter',
  'litre',
  'gallon',
  'cup',
  'mph',
  'kmh',
  'dollar',
  'cent',
  'euro',
  'yuan',
  'rupee',
  'yen',
  'unit',
  'degree',
  'deg',
  'radian',
  'rad',
  'square',
  'sq',
  'cubic',
  'people',
  'person',
  'student',
  'apple',
  'way',
  'time',
  'page',
  'book',
  'point',
  'item',
  'ball',
  'coin',
  'child',
  'children',
  'men',
  'women',
  'boy',
  'girl',
  'car',
];
const UNIT_RE = new RegExp(
  `(\\d|\\})\\s*(?:(?:${UNIT_WORDS.sort((a, b) => b.length - a.length).join('|')})(?:e?s)?)(?:\\^?\\{?[23]\\}?|²|³)?\\s*$`,
);

/** Text macros whose argument is plain text. */
const TEXT_MACROS =
  /\\(?:text|textbf|textit|textrm|textnormal|textsf|texttt|mbox|mathrm|mathbf|mathit|mathsf|operatorname|bf|rm)\s*\{([^{}]*)\}/g;

export function normalizeAnswer(raw: string): NormalizedAnswer {
  let s = raw;
  s = s.replace(/(?<!\\)\\\\(?=[a-zA-Z])/g, '\\');
  s = s.replace(/\u00a0/g, ' ').replace(/[\u200b-\u200f\ufeff\ufffd]/g, '');
  // A boxed answer inside a span: the box holds the answer.
  const boxed = /\\(?:boxed|fbox)\s*\{/.exec(s);
  if (boxed) {
    const open = boxed.index + boxed[0].length - 1;
    const inner = innerGroup(s, open);
    if (inner !== undefined) s = inner;
  }
  s = s.replace(/\\\$/g, '$').replace(/\$/g, ' ');
  s = s.replace(/^\s*\\\[|\\\]\s*$/g, '').replace(/^\s*\\\(|\\\)\s*$/g, '');
  s = s.replace(/\\(?:displaystyle|textstyle|scriptstyle|left|right|big|Big|bigg|Bigg)(?![a-zA-Z])\.?/g, '');
  s = s.replace(/(\d),\\!\s*(?=\d{3}(?!\d))/g, '$1');
  s = s.replace(/\\(?:quad|qquad)(?![a-zA-Z])|(?<!\\)\\[,;:! ]|~/g, ' ');
  s = s.replace(/\\(?:dfrac|tfrac|cfrac)(?![a-zA-Z])/g, '\\frac');
  s = s.replace(/\\frac\s*(\d)\s*(\d)/g, '\\frac{$1}{$2}');
  s = s.replace(/\\frac\s*(\d)\s*\{/g, '\\frac{$1}{');
  s = s.replace(/\\frac\s*\{([^{}]*)\}\s*(\d)/g, '\\frac{$1}{$2}');
  s = s.replace(/\\sqrt\s*(\d+|[a-zA-Z])(?![a-zA-Z{])/g, '\\sqrt{$1}');
  s = s.replace(/\\(?:geq|geqslant)(?![a-zA-Z])|>=|≥/g, '\\ge ');
  s = s.replace(/\\(?:leq|leqslant)(?![a-zA-Z])|<=|≤/g, '\\le ');
  s = s.replace(/\\(?:neq)(?![a-zA-Z])|!=|≠/g, '\\ne ');
  s = s.replace(/\\lt(?![a-zA-Z])/g, '<').replace(/\\gt(?![a-zA-Z])/g, '>');
  s = s.replace(/\\\\(?=(?:le|ge|ne|lt|gt|frac|sqrt|pi|cdot)(?![a-zA-Z]))/g, '\\');
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])/g, '');
  // Thousands separators: 14{,}916, 11,\!111 (\! already a space), 1\,000.
  s = s.replace(/(\d)\s*\{,\s*\}\s*(?=\d)/g, '$1');
  if (/^\s*-?\d{1,3}(?:(?:,| )\d{3})+(?:\.\d+)?\s*$/.test(s) && !/, /.test(s)) s = s.replace(/[, ]/g, '');
  const percent = /\\%|%|\bpercent(?:age)?\b|\bpct\b/.test(s);
  s = s.replace(/\\%|%|\\text\s*\{\s*(?:percent|pct)\s*\}|\b(?:percentage|percent|pct)\b/g, '');
  s = stripUnits(s);
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/^(?:\\text\s*\{\s*)?(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*:?\s*\}?/i, '');
  s = trimPunctuation(s);
  return { text: s, percent };
}

/** Trailing spaces and punctuation off, leading separators off (a factorial's `!` stays). */
function trimPunctuation(s: string): string {
  let end = s.length;
  while (end > 0 && (/[\s.,;:?]/.test(s[end - 1]) || (s[end - 1] === '!' && !/\d/.test(s[end - 2] ?? ''))))
    end--;
  let start = 0;
  while (start < end && /[\s,;:]/.test(s[start])) start++;
  return s.slice(start, end);
}

/** Drops a trailing unit: `\text{ cm}^2`, `\mbox{ cm}^2`, `125 miles`, `1,000.99m²`. */
function stripUnits(input: string): string {
  let s = input.trim();
  for (let guard = 0; guard < 3; guard++) {
    const before = s;
    const textUnit =
      /(\d|\})\s*\\(?:text|textbf|textit|textnormal|mbox|mathrm)\s*\{\s*([a-zA-Z][a-zA-Z\s.]*)\}(?:\^\{?\d\}?)?\s*$/.exec(
        s,
      );
    if (textUnit && !/^(?:and|or)$/i.test(textUnit[2].trim())) s = s.slice(0, textUnit.index + 1);
    s = s.replace(UNIT_RE, '$1').trim();
    if (s === before) break;
  }
  return s;
}

/** Content of the `{…}` group starting at `open`, or undefined when it is not closed. */
function innerGroup(s: string, open: number): string | undefined {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return s.slice(open + 1, i);
  }
  return undefined;
}

/** Text inside `\text{}`-like macros with the macro removed (`\text{(C)}` → `(C)`). */
export function unwrapTextMacros(s: string): string {
  let out = s;
  for (let guard = 0; guard < 4 && TEXT_MACROS.test(out); guard++) {
    TEXT_MACROS.lastIndex = 0;
    out = out.replace(TEXT_MACROS, '$1');
  }
  TEXT_MACROS.lastIndex = 0;
  return out;
}
