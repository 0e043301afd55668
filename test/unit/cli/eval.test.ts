/** `reasonloop eval`: usage errors, validation before any connection, workflow ids, the summary. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { evaluationWorkflowId, formatEvaluationSummary } from '../../../cli/commands/eval.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-eval-cli-'));

const HELD_OUT = {
  kind: 'math',
  data: {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
    size: 50,
    split: 'heldOut',
    heldOutSize: 20,
  },
  prompt: { template: 'plain' },
};

function evalConfigFile(name: string, overrides: Record<string, unknown> = {}): string {
  const path = join(DIR, name);
  const config = {
    evalId: 'ev-cli',
    model: { checkpoint: { runId: 'sft1' } },
    task: HELD_OUT,
    store: { url: join(DIR, 'store') },
    ...overrides,
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('reasonloop eval', () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });

  it('usage errors exit 2 and name the problem', async () => {
    assert.match((await capture(['eval'])).err, /--config is required/);
    const json = await capture(['eval', '--config', 'e.json', '--json']);
    assert.equal(json.code, EXIT_USAGE);
    assert.match(json.err, /--json prints the summary: it needs --wait/);
    assert.equal((await capture(['eval', '--nope'])).code, EXIT_USAGE);
  });

  it('a bad config fails with the path-naming message before anything is contacted', async () => {
    const file = evalConfigFile('greedy.json', { sampling: { samples: 4 } });
    const started = Date.now();
    const r = await capture(['eval', '--config', file, '--wait']);
    assert.equal(r.code, 1);
    assert.match(r.err, /evaluation\.sampling\.samples must be 1 with greedy decoding/);
    assert.ok(Date.now() - started < 5000, 'answered without waiting on a connection');
    const two = await capture([
      'eval',
      '--config',
      evalConfigFile('two.json', { model: { checkpoint: { runId: 'a' }, dir: '/m' } }),
    ]);
    assert.match(
      two.err,
      /evaluation\.model must set exactly one of "init", "dir", "checkpoint" or "endpoint"/,
    );
  });

  it('--check validates and prints the temporal line with a fresh <evalId>-<timestamp> id', async () => {
    const file = evalConfigFile('good.json');
    const r = await capture(['eval', '--config', file, '--check']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /evaluation config .*good\.json: ok \(eval ev-cli/);
    const line = r.out.split('\n').find((l) => l.startsWith('equivalent: '));
    assert.match(
      line ?? '',
      /^equivalent: temporal workflow start --type evaluation --task-queue reasonloop --workflow-id ev-cli-\d{8}T\d{6}\.\d{3}Z --input-file \S+good\.json$/,
    );
  });

  it('workflow ids: one per start, sortable by time', () => {
    const a = evaluationWorkflowId('ev', new Date('2026-11-25T12:21:37.123Z'));
    assert.equal(a, 'ev-20261125T122137.123Z');
    const b = evaluationWorkflowId('ev', new Date('2026-11-25T12:21:37.124Z'));
    assert.ok(a < b);
  });

  it('the summary names the model and step and gives every number', () => {
    const text = formatEvaluationSummary({
      evalId: 'ev',
      model: 'checkpoint:sft1@40',
      step: 40,
      problems: 20,
      samples: 4,
      accuracy: 0.6125,
      passAtK: 0.85,
      meanLength: 17.25,
      lengthStd: 4.06,
      completionRatio: 0.95,
      meanReward: 0.5,
      key: 'evals/ev/sft1/000000000040/summary.json',
      toolCallsPerResponse: 0,
      toolErrors: 0,
      sandboxSeconds: 0,
    });
    assert.match(text, /^evaluation ev: checkpoint:sft1@40 \(step 40\)/);
    for (const want of [
      /problems +20 × 4 samples/,
      /accuracy +0\.6125/,
      /pass@4 +0\.8500/,
      /mean length +17\.3 ± 4\.1 tokens/,
    ]) {
      assert.match(text, want);
    }
    assert.match(text, /completion ratio +0\.9500/);
    assert.match(text, /mean reward +0\.5000/);
  });

  it('pass@k, maj@k with intervals and the protocol sit beside the numbers', () => {
    const text = formatEvaluationSummary({
      evalId: 'ev',
      model: 'dir:/m',
      problems: 30,
      samples: 4,
      accuracy: 0.5,
      passAtK: 0.8,
      meanLength: 10,
      lengthStd: 1,
      completionRatio: 1,
      meanReward: 0,
      key: 'k',
      toolCallsPerResponse: 0,
      toolErrors: 0,
      sandboxSeconds: 0,
      metrics: {
        n: 4,
        avgAtN: 0.5,
        passAt: { 1: 0.5, 2: 0.7, 3: 0.75, 4: 0.8 },
        majAt: { 1: 0.5, 2: 0.45, 3: 0.55, 4: 0.6 },
        interval95: { avgAtN: [0.4, 0.6], passAtN: [0.65, 0.93], majAtN: [0.43, 0.77] },
      },
      protocol: {
        benchmark: 'aime24',
        problems: 30,
        n: 4,
        temperature: 0.6,
        topP: 0.95,
        maxNewTokens: 32768,
        prompt: 'chat',
        seed: 0,
      },
    });
    assert.match(text, /avg@4 +0\.5000 +95% \[0\.4000, 0\.6000\]/);
    assert.match(text, /pass@k +@1 0\.5000 +@2 0\.7000 +@4 0\.8000/);
    assert.match(text, /maj@k +@1 0\.5000 +@2 0\.4500 +@4 0\.6000/);
    assert.match(text, /maj@4 95% +\[0\.4300, 0\.7700\]/);
    assert.match(
      text,
      /protocol +aime24 \(30 problems\) n=4 T=0\.6 top-p=0\.95 max tokens=32768 prompt=chat seed=0/,
    );
  });
});
