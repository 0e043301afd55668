// The dependency direction is enforced: lint bites on a wrong import, passes a right one, and the repository has
// no folder-level import cycle.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { folderCycles, roomGraph, valueImports } from '../../../lint/folderCycles.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: ROOT });

/** The boundary errors ESLint reports for `code` placed at repository path `file`. */
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'reasonloop/boundaries').map((m) => m.message);
}

const WRONG: [file: string, code: string, says: RegExp][] = [
  ['core/rl/fixture.ts', "export { buildQwen2Logits } from '../model/qwen2.ts';", /core\/rl → core\/model/],
  [
    'core/rl/fixture.ts',
    "import { PolicyUpdater } from '../train/policyUpdate.ts';\nvoid PolicyUpdater;",
    /core\/rl → core\/train/,
  ],
  [
    'core/reward/fixture.ts',
    "import { Graph } from '../graph/graph.ts';\nvoid Graph;",
    /core\/reward → core\/graph/,
  ],
  [
    'core/data/fixture.ts',
    "import type { RunConfig } from '../config/run.ts';\nexport type X = RunConfig;",
    /core\/data → core\/config/,
  ],
  [
    'core/model/fixture.ts',
    "import { proxyActivities } from '@temporalio/workflow';\nvoid proxyActivities;",
    /Temporal/,
  ],
  [
    'core/store/fixture.ts',
    "import { createWorkers } from '../../workers/workers.ts';\nvoid createWorkers;",
    /core → workers|core\/store → workers/,
  ],
  [
    'workflows/fixture.ts',
    "import { sampleRollouts } from '../activities/sampleRollouts.ts';\nvoid sampleRollouts;",
    /activity types only/,
  ],
  [
    'activities/fixture.ts',
    "import { createWorkers } from '../workers/workers.ts';\nvoid createWorkers;",
    /activities → workers/,
  ],
  [
    'cli/fixture.ts',
    "import { evaluateModel } from '../activities/evaluateModel.ts';\nvoid evaluateModel;",
    /cli → activities/,
  ],
];

for (const [file, code, says] of WRONG) {
  test(`lint refuses ${file}: ${code.split('\n')[0]}`, async () => {
    const errors = await boundaryErrors(file, code);
    assert.equal(errors.length, 1, `expected one boundary error, got ${JSON.stringify(errors)}`);
    assert.match(errors[0]!, says);
  });
}

const RIGHT: [file: string, code: string][] = [
  ['core/model/fixture.ts', "import { Graph } from '../graph/graph.ts';\nvoid Graph;"],
  ['core/train/fixture.ts', "export { buildQwen2Logits } from '../model/qwen2.ts';"],
  [
    'workflows/fixture.ts',
    "import type * as activities from '../activities/sampleRollouts.ts';\nexport type A = typeof activities;",
  ],
  [
    'workers/fixture.ts',
    "import { sampleRollouts } from '../activities/sampleRollouts.ts';\nvoid sampleRollouts;",
  ],
];

for (const [file, code] of RIGHT) {
  test(`lint allows ${file}: ${code.split('\n')[0]}`, async () => {
    assert.deepEqual(await boundaryErrors(file, code), []);
  });
}

test('the cycle check finds a folder cycle in a made-up graph and none in the repository', () => {
  const made = new Map([
    ['core/a', new Map([['core/b', 'core/a/x.ts → core/b/y.ts']])],
    ['core/b', new Map([['core/a', 'core/b/y.ts → core/a/x.ts']])],
  ]);
  assert.deepEqual(folderCycles(made), [['core/a', 'core/b']]);
  assert.deepEqual(folderCycles(roomGraph(ROOT)), []);
});

test('the cycle check counts value imports only: a type-only import is erased at run time', () => {
  const source = [
    "import type { A } from './a.ts';",
    "import { type B, type C } from './b.ts';",
    "import { D, type E } from './d.ts';",
    "export type { F } from './f.ts';",
    "export { G } from './g.ts';",
    "const h = await import('./h.ts');",
    "const s = `import { X } from './x.ts'`;",
  ].join('\n');
  assert.deepEqual(valueImports(source), ['./d.ts', './g.ts', './h.ts']);
});
