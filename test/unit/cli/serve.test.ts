/** `reasonloop serve` as a process: usage errors, and SIGTERM lets a running stream finish, then exits 0. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { capture } from './capture.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = `${ROOT}test/fixtures/qwen2/untied`;

test('usage errors name the flag', async () => {
  const both = await capture(['serve', '--model', MODEL, '--run', 'r']);
  assert.equal(both.code, 2);
  assert.match(both.err, /exactly one of --model and --run/);
  const port = await capture(['serve', '--model', MODEL, '--port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.err, /--port must be at most 65535/);
  const step = await capture(['serve', '--model', MODEL, '--step', '2']);
  assert.match(step.err, /--step needs --run/);
});

test('SIGTERM: the stream in flight finishes with [DONE], new connections are refused, exit 0', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/reasonloop.ts', 'serve', '--model', MODEL, '--port', '0'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const base = JSON.parse(line).listening as string;
    const res = await fetch(`${base}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Hello', max_tokens: 100, stream: true, ignore_eos: true }),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^data: /);
    child.kill('SIGTERM');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /"finish_reason":"length"/);
    assert.match(rest, /data: \[DONE\]\n\n$/);
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /SIGTERM: finishing running requests/);
    await assert.rejects(fetch(`${base}/completions`, { method: 'POST', body: '{}' }));
  } finally {
    child.kill('SIGKILL');
  }
});
