// A strict check that a string is well-formed XML markup in the subset our SVG and HTML use: every tag
// closed in order, attributes quoted, and '<' / '&' only as markup or known entities.

const VOID_HTML = new Set(['meta', 'link', 'br', 'hr', 'img', 'input']);
const ENTITY = /^&(amp|lt|gt|quot|#\d+);/;

/** Throws with the offending position if the markup is not well-formed; `html` allows HTML void tags. */
export function assertWellFormed(markup: string, { html = false } = {}): void {
  const stack: string[] = [];
  let i = 0;
  while (i < markup.length) {
    const ch = markup[i]!;
    if (ch === '&') {
      if (!ENTITY.test(markup.slice(i, i + 10)))
        throw new Error(`bare '&' at ${i}: ${markup.slice(i, i + 20)}`);
      i++;
      continue;
    }
    if (ch === '>') throw new Error(`stray '>' at ${i}: ${markup.slice(Math.max(0, i - 20), i + 1)}`);
    if (ch !== '<') {
      i++;
      continue;
    }
    const end = markup.indexOf('>', i);
    if (end < 0) throw new Error(`unclosed tag at ${i}`);
    const tag = markup.slice(i + 1, end);
    i = end + 1;
    if (tag.startsWith('!')) continue; // doctype
    if (tag.startsWith('/')) {
      const name = tag.slice(1);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> at ${end} closes <${open}>`);
      continue;
    }
    const m = /^([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag}>`);
    const selfClosing = m[3] === '/' || (html && VOID_HTML.has(m[1]!));
    if (!selfClosing) {
      stack.push(m[1]!);
      if (html && (m[1] === 'style' || m[1] === 'script')) {
        const close = markup.indexOf(`</${m[1]}>`, i);
        if (close < 0) throw new Error(`<${m[1]}> is never closed`);
        i = close;
      }
    }
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
}

/** Values that mean a number went wrong somewhere on its way into the markup. */
export const BAD_VALUES = /NaN|undefined|Infinity|null|\[object/;
