// Text placed into SVG or HTML: every markup character escaped, so a label can never open a tag.

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in element content and in double- or single-quoted attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/** A coordinate written with at most two decimals: a hundredth of a pixel is below what any screen shows. */
export function coord(v: number): string {
  return String(Math.round(v * 100) / 100 + 0);
}
