/**
 * Seconds and peak resident memory per phase of an activity. The peak is the kernel's own high-water mark
 * (VmHWM in /proc/self/status), reset between phases through /proc/self/clear_refs ("5", Linux ≥ 4.0).
 * Polling RSS from JavaScript would miss the peaks: most of a phase is synchronous or inside onnxruntime,
 * where no timer runs. Where /proc is not there (macOS) the tracker reports no peaks rather than wrong ones.
 */
import { readFileSync, writeFileSync } from 'node:fs';

function highWaterKiB(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function resetHighWater(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export interface PhasePeaks {
  /** Ends the current phase under `name` and starts the next one. */
  end(name: string): void;
  /**
   * `memory/<prefix>_peak_rss_gb/<phase>` per ended phase, the largest as `memory/<prefix>_peak_rss_gb`, and
   * `timing/<prefix>_phase/<phase>`: the phase's seconds (what a benchmark holds against another engine's
   * step, which has no state to read or write).
   */
  metrics(prefix: string): Record<string, number>;
}

/** Starts measuring at the call: the first phase's peak counts from here, not from the process's start. */
export function phasePeaks(): PhasePeaks {
  const peaks: [string, number][] = [];
  const seconds: [string, number][] = [];
  const resettable = resetHighWater();
  let phaseStarted = performance.now();
  return {
    end(name) {
      const now = performance.now();
      seconds.push([name, (now - phaseStarted) / 1000]);
      phaseStarted = now;
      const kib = resettable ? highWaterKiB() : undefined;
      if (kib === undefined) return;
      peaks.push([name, (kib * 1024) / 1e9]);
      resetHighWater();
    },
    metrics(prefix) {
      const out: Record<string, number> = {};
      for (const [name, s] of seconds) out[`timing/${prefix}_phase/${name}`] = s;
      if (peaks.length === 0) return out;
      for (const [name, gb] of peaks) out[`memory/${prefix}_peak_rss_gb/${name}`] = gb;
      out[`memory/${prefix}_peak_rss_gb`] = Math.max(...peaks.map(([, gb]) => gb));
      return out;
    },
  };
}
