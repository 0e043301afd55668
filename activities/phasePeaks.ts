/**
 * Peak resident memory per phase of an activity, from the kernel's own high-water mark (VmHWM in
 * /proc/self/status), reset between phases through /proc/self/clear_refs ("5", Linux ≥ 4.0). Polling RSS
 * from JavaScript would miss the peaks: most of a phase is synchronous or inside onnxruntime, where no
 * timer runs. Where /proc is not there (macOS) the tracker reports nothing rather than a wrong number.
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
  /** `memory/<prefix>_peak_rss_gb/<phase>` per ended phase, and the largest as `memory/<prefix>_peak_rss_gb`. */
  metrics(prefix: string): Record<string, number>;
}

/** Starts measuring at the call: the first phase's peak counts from here, not from the process's start. */
export function phasePeaks(): PhasePeaks {
  const peaks: [string, number][] = [];
  const resettable = resetHighWater();
  return {
    end(name) {
      const kib = resettable ? highWaterKiB() : undefined;
      if (kib === undefined) return;
      peaks.push([name, (kib * 1024) / 1e9]);
      resetHighWater();
    },
    metrics(prefix) {
      if (peaks.length === 0) return {};
      const out: Record<string, number> = {};
      for (const [name, gb] of peaks) out[`memory/${prefix}_peak_rss_gb/${name}`] = gb;
      out[`memory/${prefix}_peak_rss_gb`] = Math.max(...peaks.map(([, gb]) => gb));
      return out;
    },
  };
}
