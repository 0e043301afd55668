/** bench:orchestration's command line. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchOptions } from '../../../bench/orchestration/options.ts';

it("all three runs on infra/'s pragmas by default; --sizes picks runs, --sqlite-defaults the pragmas", () => {
  assert.deepEqual(benchOptions([]), { sizes: ['tiny', 'demo', 'demo-fused'], sqliteDefaults: false });
  assert.deepEqual(benchOptions(['--sizes', 'demo-fused', '--sqlite-defaults']), {
    sizes: ['demo-fused'],
    sqliteDefaults: true,
  });
});

it('an unknown size or argument is refused by name', () => {
  assert.throws(() => benchOptions(['--sizes', 'demo,huge']), /--sizes: .*got "demo,huge"/);
  assert.throws(() => benchOptions(['--sizes']), /--sizes/);
  assert.throws(() => benchOptions(['--fast']), /unknown argument --fast/);
});
