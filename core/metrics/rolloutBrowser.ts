/**
 * The rollout browser: one self-contained HTML page per run (inline style, script and data; opens offline)
 * to browse the recorded steps, filter responses (correct, wrong, truncated, with tool calls) and see a
 * group's n responses side by side with their rewards and advantages. The state lives in the URL's
 * fragment: `rollouts.html#step=12&only=tools&group=3`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ObjectStore } from '../store/objectStore.ts';
import type { Link } from './reportData.ts';
import { readStepRecords, recordedSteps, type StepRecords } from './rolloutRecords.ts';
import { ROLLOUT_BROWSER_SCRIPT } from './rolloutBrowserScript.ts';
import { escapeXml } from './xml.ts';

/** Steps a page holds by default: a step of 512 responses is up to a few MB of text. */
export const DEFAULT_BROWSER_STEPS = 20;

/** Colours the screenshot test looks for: a correct and a wrong reward badge, a tool's inserted text. */
export const BROWSER_COLORS = {
  correct: '#1a7f37',
  wrong: '#cf222e',
  tool: '#fff1b8',
  positive: '#0969da',
  negative: '#bc4c00',
} as const;

const STYLE = `
  :root { color-scheme: light; }
  body { margin: 0; padding: 20px; background: #ffffff; color: #222222;
         font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .subtitle, .count { color: #555555; margin: 4px 0 12px; }
  nav.controls { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
  a.filter { padding: 2px 8px; border: 1px solid #d0d7de; border-radius: 12px; color: #0550ae;
             text-decoration: none; }
  a.filter.active { background: #0550ae; color: #ffffff; border-color: #0550ae; }
  .filters { display: flex; gap: 6px; }
  section.group { border-top: 1px solid #d0d7de; padding: 8px 0 12px; }
  section.group.dropped h2 { color: #888888; }
  h2 { font-size: 14px; font-weight: 600; margin: 4px 0; }
  details.prompt pre { white-space: pre-wrap; background: #f6f8fa; padding: 6px; margin: 4px 0; }
  .row { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(200px, 1fr); gap: 10px;
         overflow-x: auto; align-items: start; }
  article.resp { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 8px; min-width: 0; }
  article.resp.out { opacity: 0.75; border-style: dashed; }
  article.resp header { display: flex; gap: 8px; align-items: center; }
  .badge { color: #ffffff; font-weight: 600; padding: 1px 8px; border-radius: 4px; }
  .badge.ok { background: ${BROWSER_COLORS.correct}; }
  .badge.bad { background: ${BROWSER_COLORS.wrong}; }
  .sample { color: #555555; }
  .adv { display: flex; gap: 8px; align-items: center; margin: 4px 0; }
  .advlabel { font-variant-numeric: tabular-nums; white-space: nowrap; }
  .track { position: relative; flex: 1; height: 8px; background: #eaeef2; }
  .fill { position: absolute; top: 0; height: 8px; }
  .fill.pos { background: ${BROWSER_COLORS.positive}; }
  .fill.neg { background: ${BROWSER_COLORS.negative}; }
  .meta { color: #555555; font-size: 12px; }
  .text { white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace;
          max-height: 360px; overflow-y: auto; margin-top: 4px; }
  .tool { display: block; background: ${BROWSER_COLORS.tool}; border-left: 3px solid #d4a72c; padding-left: 4px; }
  .omitted { color: #888888; font-style: italic; }
`;

/** JSON safe inside a <script> element: no `</script>` or `<!--` can close or confuse it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export interface BrowserData {
  runId: string;
  steps: StepRecords[];
}

/** The page; the records are rendered by its script for the view the URL names. */
export function renderRolloutBrowser(data: BrowserData, generatedAt: string): string {
  const stepList = data.steps.map((s) => s.step);
  const range = stepList.length
    ? `steps ${stepList[0]}–${stepList.at(-1)!} (${stepList.length} recorded)`
    : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(`rollouts of ${data.runId}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeXml(`Rollouts of ${data.runId}`)}</h1>`,
    `<p class="subtitle">${escapeXml(range)} · generated ${escapeXml(generatedAt)}</p>`,
    '<noscript><p>This page draws the records with JavaScript; <code>reasonloop rollouts</code> prints the same.</p></noscript>',
    '<div id="browser"></div>',
    `<script type="application/json" id="rollout-data">${scriptJson(data)}</script>`,
    `<script>${ROLLOUT_BROWSER_SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Up to `limit` of `steps`, evenly spread and always with the first and the last (the run's history). */
export function spreadSteps(steps: readonly number[], limit: number): number[] {
  if (steps.length <= limit) return [...steps];
  if (limit <= 1) return steps.slice(-1);
  const picked = new Set<number>();
  for (let i = 0; i < limit; i++) picked.add(steps[Math.round((i * (steps.length - 1)) / (limit - 1))]);
  return [...picked].sort((a, b) => a - b);
}

/** A run's records for the page: up to `limit` recorded steps, spread over the run. */
export async function browserData(
  store: ObjectStore,
  runId: string,
  limit = DEFAULT_BROWSER_STEPS,
): Promise<BrowserData> {
  const steps: StepRecords[] = [];
  for (const step of spreadSteps(await recordedSteps(store, runId), limit)) {
    const records = await readStepRecords(store, runId, step);
    if (records) steps.push(records);
  }
  return { runId, steps };
}

/** The browser page of `runId` beside the report at `reportPath`: `report-rollouts-<runId>.html`. */
export function browserPath(reportPath: string, runId: string): string {
  return join(dirname(reportPath), `${basename(reportPath).replace(/\.html?$/, '')}-rollouts-${runId}.html`);
}

/**
 * Writes a browser page beside the report for each run that has rollout records (an SFT run has none),
 * and returns the links for the report.
 */
export async function writeRolloutBrowsers(
  store: ObjectStore,
  runIds: readonly string[],
  reportPath: string,
  generatedAt: string,
  limit = DEFAULT_BROWSER_STEPS,
): Promise<Link[]> {
  const links: Link[] = [];
  for (const runId of runIds) {
    const data = await browserData(store, runId, limit);
    if (data.steps.length === 0) continue;
    const path = browserPath(reportPath, runId);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, renderRolloutBrowser(data, generatedAt));
    links.push({ text: `rollouts of ${runId} (${data.steps.length} steps)`, href: basename(path) });
  }
  return links;
}
