/**
 * A full V8 collection on demand, for memory that only a collection gives back: onnxruntime-node hands back
 * a JavaScript copy of every output it wrote into the caller's arrays (Executable.run's `into`), and for an
 * accumulating gradient step that is one more set of gradients per micro-batch. The copies are garbage at
 * once, but V8 sees little JavaScript allocation between runs and leaves them to the next collection, often
 * after the next micro-batch's backward has peaked on top of them (docs/model.md, "Memory estimate").
 *
 * `gc` is exposed to a fresh context through the --expose-gc flag, set only while that context is made, so
 * the worker's own global gets no `gc` and needs no command-line flag.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

function exposedGc(): () => void {
  if (gc) return gc;
  setFlagsFromString('--expose-gc');
  try {
    gc = runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc !== 'function') throw new Error('collectGarbage: V8 did not expose gc');
  return gc;
}

/** Runs a full, synchronous collection: garbage ArrayBuffers' memory goes back before it returns. */
export function collectGarbage(): void {
  exposedGc()();
}
