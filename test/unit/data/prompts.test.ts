import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BOXED_INSTRUCTION, buildPrompt, LONG_INSTRUCTION } from '../../../core/data/prompts.ts';
import { zeroFormatGate } from '../../../core/reward/formatGate.ts';

test('chat template: messages for the model’s own chat template, with the boxed instruction', () => {
  assert.deepEqual(buildPrompt('chat', 'What is 2+2?', 'Be brief.'), {
    kind: 'messages',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: `What is 2+2?\n${BOXED_INSTRUCTION}` },
    ],
  });
});

test('R1-Zero prompt ends inside <think>, so a well-formed completion passes the format gate', () => {
  const p = buildPrompt('r1-zero', 'What is 2+2?');
  assert.equal(p.kind, 'text');
  const text = (p as { text: string }).text;
  assert.ok(text.endsWith('Assistant: <think>'));
  assert.ok(text.includes('User: What is 2+2?'));
  assert.equal(zeroFormatGate(' 2+2=4 </think> <answer>4</answer>', { thinkOpenedInPrompt: true }).ok, true);
});

test('long prompt carries the detailed instruction before the problem', () => {
  const p = buildPrompt('long', 'What is 2+2?');
  assert.equal(p.kind, 'messages');
  const content = (p as { messages: { content: string }[] }).messages[0].content;
  assert.ok(content.startsWith(LONG_INSTRUCTION));
  assert.ok(content.endsWith('Problem:\nWhat is 2+2?'));
});
