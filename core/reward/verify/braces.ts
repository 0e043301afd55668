/** Brace matching over LaTeX text, bounded and tolerant of escaped braces (`\{`, `\}`). */

/**
 * Index just past the `}` that closes the `{` at `open`, or -1 when it is never closed or the nesting
 * goes deeper than `maxDepth`.
 */
export function matchBrace(text: string, open: number, maxDepth = Infinity): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 92 /* \ */) {
      i++; // an escaped character never opens or closes a group
      continue;
    }
    if (ch === 123 /* { */) {
      depth++;
      if (depth > maxDepth) return -1;
    } else if (ch === 125 /* } */) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Deepest `{}` / `()` / `[]` nesting in the text (escaped delimiters count too: they nest in the parser). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '(' || ch === '[') {
      depth++;
      if (depth > max) max = depth;
    } else if (ch === '}' || ch === ')' || ch === ']') {
      if (depth > 0) depth--;
    }
  }
  return max;
}

/** True when every `{` has its `}` (escaped braces ignored). */
export function bracesBalanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 92) {
      i++;
      continue;
    }
    if (ch === 123) depth++;
    else if (ch === 125 && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Splits at top-level occurrences of any separator (outside `{}`, `()`, `[]` and `\{ \}`), trimming parts.
 * Returns a single part when there is no top-level separator.
 */
export function splitTopLevel(text: string, separators: readonly string[]): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === '{' || next === '[' || next === '(') depth++;
      else if (next === '}' || next === ']' || next === ')') depth = Math.max(0, depth - 1);
      else if (depth === 0) {
        const sep = separators.find(
          (s) => s.startsWith('\\') && text.startsWith(s, i) && !isLetter(text[i + s.length]),
        );
        if (sep) {
          parts.push(text.slice(start, i));
          start = i + sep.length;
          i = start - 1;
          continue;
        }
      }
      i++;
      continue;
    }
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') depth = Math.max(0, depth - 1);
    else if (depth === 0) {
      const sep = separators.find((s) => !s.startsWith('\\') && text.startsWith(s, i));
      if (sep) {
        parts.push(text.slice(start, i));
        start = i + sep.length;
        i = start - 1;
      }
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function isLetter(ch: string | undefined): boolean {
  return ch !== undefined && /[a-zA-Z]/.test(ch);
}
