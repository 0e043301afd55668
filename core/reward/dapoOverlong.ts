/**
 * DAPO's soft overlong punishment (Yu et al. 2025, eq. 13): no penalty up to Lmax − Lcache tokens, a
 * linear penalty down to −1 over the last Lcache tokens, −1 beyond Lmax. Added to the task reward.
 */
export function dapoOverlongPenalty(
  length: number,
  maxLength: number,
  cacheLength: number,
  factor = 1,
): number {
  if (!(cacheLength > 0) || cacheLength > maxLength) {
    throw new Error(`DAPO cache length must be in (0, maxLength=${maxLength}] (got ${cacheLength})`);
  }
  const expected = maxLength - cacheLength;
  if (length <= expected) return 0;
  if (length <= maxLength) return (factor * (expected - length)) / cacheLength;
  return -factor;
}
