/** The tool-call protocol's pure parts: finding the code block, formatting and truncating the output. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  countToolCalls,
  extractCodeBlock,
  formatOutputBlock,
  outputText,
  PYTHON_STOP,
  TRUNCATION_MARK,
} from '../../../core/tools/protocol.ts';

test('extractCodeBlock: the python block the response ends with', () => {
  const text = 'Let me compute.\n```python\nx = 3\nprint(x * 2)\n```\n';
  assert.equal(extractCodeBlock(text), 'x = 3\nprint(x * 2)');
  assert.ok(text.endsWith(PYTHON_STOP));
  // `py`, surrounding blanks, and a token that ran past the fence.
  assert.equal(extractCodeBlock('```py\nprint(1)\n```\n\n'), 'print(1)');
  assert.equal(extractCodeBlock('```Python  \nprint(1)\n```'), 'print(1)');
});

test('extractCodeBlock: only the last block, and only when it is Python', () => {
  const two = '```python\na = 1\n```\n```output\n\n```\nthen\n```python\nb = 2\n```\n';
  assert.equal(extractCodeBlock(two), 'b = 2');
  assert.equal(extractCodeBlock('```\nplain text block\n```\n'), undefined);
  assert.equal(extractCodeBlock('```text\nx\n```\n'), undefined);
  assert.equal(extractCodeBlock('```output\n42\n```\n'), undefined);
  assert.equal(extractCodeBlock('no fence at all'), undefined);
  // A fence that does not stand on its own line does not close the block.
  assert.equal(extractCodeBlock('```python\ns = "```'), undefined);
  // An empty block is still a (trivial) call.
  assert.equal(extractCodeBlock('```python\n```\n'), '');
});

test('outputText: output as printed, error after output, within the limit', () => {
  assert.equal(outputText({ stdout: '42\n', error: null }), '42');
  assert.equal(outputText({ stdout: '', error: null }), '');
  assert.equal(
    outputText({ stdout: 'partial\n', error: 'ZeroDivisionError: division by zero' }),
    'partial\nZeroDivisionError: division by zero',
  );
});

test('outputText: long output keeps its start, a long error keeps its end (the exception line)', () => {
  const long = outputText({ stdout: 'a'.repeat(1000), error: null }, 400);
  assert.equal(long.length, 400);
  assert.ok(long.startsWith('aaa') && long.endsWith(TRUNCATION_MARK));
  const trace = 'Traceback (most recent call last):\n' + '  File "<code>", line 1\n'.repeat(40);
  const err = outputText({ stdout: '', error: trace + 'ValueError: bad' }, 400);
  assert.equal(err.length, 400);
  assert.ok(err.startsWith(TRUNCATION_MARK) && err.endsWith('ValueError: bad'));
});

test('formatOutputBlock: an ```output block that ends the turn with a newline', () => {
  assert.equal(formatOutputBlock({ stdout: '6\n', error: null }), '```output\n6\n```\n');
  assert.equal(countToolCalls('x```output\n1\n```\ny```output\n2\n```\n'), 2);
  assert.equal(countToolCalls('```python\nprint(1)\n```\n'), 0);
});
