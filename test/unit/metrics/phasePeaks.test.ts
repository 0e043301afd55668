import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { phasePeaks } from '../../../core/metrics/phasePeaks.ts';

it(
  'reports each phase its own peak RSS, from the kernel high-water mark',
  { skip: !existsSync('/proc/self/clear_refs') },
  () => {
    const peaks = phasePeaks();
    peaks.end('quiet');
    // 400 MB touched in the phase: the kernel counts it even though no timer could have sampled it.
    const block = new Uint8Array(400e6);
    block.fill(1);
    peaks.end('allocating');
    const metrics = peaks.metrics('trainer');
    const quiet = metrics['memory/trainer_peak_rss_gb/quiet']!;
    const allocating = metrics['memory/trainer_peak_rss_gb/allocating']!;
    assert.ok(quiet > 0.01, `quiet phase ${quiet} GB`);
    assert.ok(allocating >= quiet + 0.35, `allocating ${allocating} GB vs quiet ${quiet} GB`);
    assert.equal(metrics['memory/trainer_peak_rss_gb'], Math.max(quiet, allocating));
    assert.equal(block[block.length - 1], 1);
    const [quietSeconds, allocatingSeconds] = ['quiet', 'allocating'].map(
      (phase) => metrics[`timing/trainer_phase/${phase}`]!,
    );
    assert.ok(
      quietSeconds! >= 0 && allocatingSeconds! > 0,
      `phase seconds ${quietSeconds}, ${allocatingSeconds}`,
    );
  },
);
