/**
 * What one snippet may use. The same limits apply to both backends and to `reasonloop sandbox run`.
 */

/** The paper's tool protocol: code runs with a 5 s limit. */
export const DEFAULT_WALL_TIME_MS = 5_000;
/** The paper's tool protocol: output (or error) is truncated to 400 characters. */
export const DEFAULT_OUTPUT_CHARS = 400;
/**
 * Memory a sandbox process may use, interpreter included. 1 GiB holds sympy in Pyodide (≈250 MB) with room
 * for model code; a memory bomb fails with MemoryError well before it troubles the host.
 */
export const DEFAULT_MEMORY_BYTES = 1024 ** 3;
/**
 * Processes (threads count) all sandboxes of one pool may hold at once. A Node/Pyodide sandbox runs about a
 * dozen threads; python3 runs one. Bounds a fork bomb to this many before fork() fails.
 */
export const DEFAULT_MAX_PROCESSES = 256;
/**
 * Grace after the wall time before the host kills the process: first the runtime's own interrupt gets a
 * chance (it keeps the process warm), then SIGKILL (needed when one C call runs long, e.g. 7**(10**8)).
 */
export const KILL_GRACE_MS = 500;

export interface SandboxLimits {
  /** Wall-clock limit of one snippet. */
  wallTimeMs: number;
  /** Characters of output (or error) put in the output block. */
  outputChars: number;
  /** Address space (python3) or data segment (Pyodide) of one sandbox process. */
  memoryBytes: number;
  /** Processes + threads the sandbox user may hold (all slots of a pool together). */
  maxProcesses: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  wallTimeMs: DEFAULT_WALL_TIME_MS,
  outputChars: DEFAULT_OUTPUT_CHARS,
  memoryBytes: DEFAULT_MEMORY_BYTES,
  maxProcesses: DEFAULT_MAX_PROCESSES,
};

/** Defaults filled in, every field checked; errors name the field and the value. */
export function resolveLimits(partial: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (!(Number.isFinite(value) && value > 0))
      throw new Error(`sandbox.limits.${key} must be a positive number (got ${value})`);
  }
  if (!Number.isInteger(limits.outputChars))
    throw new Error(`sandbox.limits.outputChars must be an integer (got ${limits.outputChars})`);
  return limits;
}
