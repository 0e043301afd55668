/**
 * The flat token layout every reference loss in core/rl/ takes: per-token values of S sequences laid end
 * to end in one array, sequence s owning indices [seqStarts[s], seqStarts[s + 1]). A mask of 0/1 per token
 * says which tokens count (prompt and tool-inserted tokens are 0).
 */

/** Offsets for sequences of the given lengths: [0, l0, l0 + l1, …] (length S + 1). */
export function seqStartsFromLengths(lengths: ArrayLike<number>): Int32Array {
  const starts = new Int32Array(lengths.length + 1);
  for (let s = 0; s < lengths.length; s++) {
    if (!Number.isInteger(lengths[s]) || lengths[s] < 0) {
      throw new RangeError(`seqStartsFromLengths: lengths[${s}] must be an integer ≥ 0 (got ${lengths[s]})`);
    }
    starts[s + 1] = starts[s] + lengths[s];
  }
  return starts;
}

/**
 * Checks that `seqStarts` is a valid layout for arrays of `tokens` entries and that every named array
 * has that many; errors name the function and the array.
 */
export function checkLayout(
  fn: string,
  seqStarts: ArrayLike<number>,
  arrays: Record<string, ArrayLike<number> | undefined>,
): number {
  if (seqStarts.length < 1 || seqStarts[0] !== 0) {
    throw new RangeError(`${fn}: seqStarts must start at 0 (got [${Array.from(seqStarts).slice(0, 3)}…])`);
  }
  for (let s = 1; s < seqStarts.length; s++) {
    if (!Number.isInteger(seqStarts[s]) || seqStarts[s] < seqStarts[s - 1]) {
      throw new RangeError(`${fn}: seqStarts[${s}] = ${seqStarts[s]} is below seqStarts[${s - 1}]`);
    }
  }
  const tokens = seqStarts[seqStarts.length - 1];
  for (const [name, array] of Object.entries(arrays)) {
    if (array && array.length !== tokens) {
      throw new RangeError(`${fn}: ${name} has ${array.length} entries, the layout has ${tokens} tokens`);
    }
  }
  return tokens;
}
