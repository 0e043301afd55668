/** Returns when it ran, in milliseconds (high-resolution, same process for every call). */
export async function stamp(): Promise<number> {
  return performance.timeOrigin + performance.now();
}
