/** `reasonloop sft`: usage errors, config validation before any connection, the printed temporal line. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-sft-cli-'));

function sftConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    runId: 'sft-cli',
    seed: 1,
    steps: 4,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: TINY_VOCAB_SIZE,
          hiddenSize: 16,
          intermediateSize: 32,
          numHiddenLayers: 1,
          numAttentionHeads: 2,
        },
        tokenizer: 'tinyBytes',
      },
    },
    task: {
      kind: 'math',
      data: {
        source: 'synthetic',
        task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
        size: 50,
      },
    },
    store: { url: join(DIR, 'store') },
    ...overrides,
  };
}

function configFile(name: string, config: unknown): string {
  const path = join(DIR, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('reasonloop sft', () => {
  // Nothing listens here: a command that contacted Temporal would fail with a connection error (after
  // seconds), not with the validator's message.
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
    const none = await capture(['sft']);
    assert.equal(none.code, EXIT_USAGE);
    assert.match(none.err, /--config is required/);
    const unknown = await capture(['sft', '--config', 'x.json', '--bogus']);
    assert.equal(unknown.code, EXIT_USAGE);
    assert.match(unknown.err, /--bogus/);
    const both = await capture(['sft', '--config', 'x.json', '--check', '--wait']);
    assert.equal(both.code, EXIT_USAGE);
  });

  it('a bad config fails with the path-naming message before anything is contacted', async () => {
    const file = configFile('bad.json', sftConfig({ steps: -4 }));
    const started = Date.now();
    const r = await capture(['sft', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /sft\.steps must be a positive integer \(got -4\)/);
    assert.ok(Date.now() - started < 5000, 'answered without waiting on a connection');
  });

  it('a missing or malformed config file is named', async () => {
    const missing = await capture(['sft', '--config', join(DIR, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /--config .*nope\.json/);
    const path = join(DIR, 'broken.json');
    writeFileSync(path, '{ not json');
    const broken = await capture(['sft', '--config', path]);
    assert.match(broken.err, /broken\.json: not valid JSON/);
  });

  it('a model dir without config.json is named', async () => {
    const file = configFile('dir.json', sftConfig({ model: { dir: join(DIR, 'no-model') } }));
    const r = await capture(['sft', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /sft\.model\.dir .*no-model: not an HF model directory/);
  });

  it('an unusable store URL is named', async () => {
    const file = configFile('store.json', sftConfig({ store: { url: 'ftp://host/x' } }));
    const r = await capture(['sft', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /sft\.store\.url: store URL ftp:\/\/host\/x: unsupported scheme/);
  });

  it('--check validates and prints the equivalent temporal command', async () => {
    const file = configFile('good.json', sftConfig());
    const r = await capture(['sft', '--config', file, '--check', '--task-queue', 'q2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ok \(run sft-cli, 4 steps/);
    assert.ok(
      r.out.includes(
        `equivalent: temporal workflow start --type sftTraining --task-queue q2 --workflow-id sft-cli --input-file ${file}`,
      ),
      r.out,
    );
  });
});
