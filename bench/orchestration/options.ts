/**
 * bench:orchestration's command line: `--sizes tiny,demo,demo-fused` (which runs, default all three) and
 * `--sqlite-defaults` (the dev server's database with SQLite's own pragmas instead of infra/'s, to see
 * what they change on the same code and machine).
 */
import type { Workload } from './workloads.ts';

export const SIZES: readonly Workload['name'][] = ['tiny', 'demo', 'demo-fused'];

export interface BenchOptions {
  sizes: Workload['name'][];
  sqliteDefaults: boolean;
}

export function benchOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { sizes: [...SIZES], sqliteDefaults: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--sqlite-defaults') {
      options.sqliteDefaults = true;
    } else if (arg === '--sizes') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !SIZES.includes(n as Workload['name']));
      if (names.length === 0 || unknown.length > 0)
        throw new Error(
          `--sizes: expected a comma-separated list of ${SIZES.join(', ')}; got "${argv[i] ?? ''}"`,
        );
      options.sizes = names as Workload['name'][];
    } else {
      throw new Error(`unknown argument ${arg} (expected --sizes LIST or --sqlite-defaults)`);
    }
  }
  return options;
}
