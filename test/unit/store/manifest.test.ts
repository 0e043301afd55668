import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import {
  MANIFEST_FORMAT,
  canonicalJson,
  configHash,
  decodeManifest,
  encodeManifest,
  manifestSha,
  signManifest,
  type UnsignedManifest,
} from '../../../core/store/index.ts';

const body: UnsignedManifest = {
  format: MANIFEST_FORMAT,
  runId: 'r1',
  step: 3,
  configHash: 'abc',
  dataCursor: { epoch: 1, index: 24 },
  rng: { seed: 7, counter: 3 },
  metrics: { reward: 0.5 },
  objects: [
    { name: 'weights/model.safetensors', size: 3, sha256: 'a'.repeat(64) },
    { name: 'optimizer/state.bin', size: 4, sha256: 'b'.repeat(64) },
  ],
  prunedGroups: [],
};

it('canonicalJson sorts keys at every level and drops undefined fields', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [{ d: 2, c: null }], u: undefined }),
    '{"a":[{"c":null,"d":2}],"b":1}',
  );
  assert.throws(() => canonicalJson({ metrics: { loss: NaN } }), /\$\.metrics\.loss must be a finite number/);
});

it('configHash does not depend on key order', () => {
  assert.equal(configHash({ a: 1, b: { c: 2, d: 3 } }), configHash({ b: { d: 3, c: 2 }, a: 1 }));
  assert.notEqual(configHash({ a: 1 }), configHash({ a: 2 }));
});

it('manifestSha is sha256 of the canonical JSON without the checksum field (checked with node:crypto directly)', () => {
  const signed = signManifest(body);
  const { manifestSha256, ...rest } = signed;
  const expected = createHash('sha256').update(canonicalJson(rest)).digest('hex');
  assert.equal(manifestSha256, expected);
  assert.equal(manifestSha(signed), expected);
  assert.deepEqual(
    signed.objects.map((o) => o.name),
    ['optimizer/state.bin', 'weights/model.safetensors'],
  );
});

it('decodeManifest accepts what encodeManifest wrote', () => {
  const signed = signManifest(body);
  assert.deepEqual(decodeManifest(encodeManifest(signed), { runId: 'r1', step: 3 }), { manifest: signed });
});

it('decodeManifest names what is wrong: a changed digit, bad JSON, wrong place, unknown field', () => {
  const text = new TextDecoder().decode(encodeManifest(signManifest(body)));
  const problem = (s: string, where = { runId: 'r1', step: 3 }) => {
    const result = decodeManifest(new TextEncoder().encode(s), where);
    assert.ok('problem' in result, `expected a problem for ${s.slice(0, 40)}`);
    return result.problem;
  };
  assert.match(
    problem(text.replace('"index": 24', '"index": 25')),
    /manifest checksum is [0-9a-f]{64}, the manifest says/,
  );
  assert.match(problem(text.slice(0, -5)), /not valid UTF-8 JSON/);
  assert.match(
    problem(text, { runId: 'r1', step: 4 }),
    /manifest is for run r1 step 3, found under run r1 step 4/,
  );
  assert.match(problem(text.replace('"step": 3', '"step": 3, "surprise": 1')), /manifest field \(root\)/);
  assert.match(problem(text.replace(MANIFEST_FORMAT, 'other/9')), /manifest field format/);
});
