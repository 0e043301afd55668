/**
 * `reasonloop sandbox run FILE.py`: runs a file exactly as a model's code block runs during training and
 * evaluation (same jail, same limits) and prints the output block the model would see.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BACKENDS, type Backend } from '../../core/tools/runtimes.ts';
import { SandboxPool } from '../../core/tools/pool.ts';
import { formatOutputBlock } from '../../core/tools/protocol.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop sandbox run FILE.py [options]

  --backend B             pyodide (default) | python3
  --timeout S             wall-clock limit in seconds (default 5, as the paper)
  --output-chars N        characters of output in the block (default 400, as the paper)
  --memory-mb N           memory of the sandbox process (default 1024)
  --unsafe-no-isolation   run WITHOUT the bubblewrap jail (resource limits only); for hosts that
                          cannot isolate, and only for code you trust

Prints the \`\`\`output block; details (time, error kind) go to stderr. Exit code 0 when the code ran
without error, 1 when it raised, timed out or was killed.`;

export const sandboxCommand: Command = {
  name: 'sandbox',
  describe: 'run a Python file in the tool sandbox, as a model code block would run',
  run: runSandbox,
};

function fail(message: string): number {
  console.error(`reasonloop sandbox: ${message}\n\n${HELP}`);
  return EXIT_USAGE;
}

function positiveNumber(value: string | undefined, flag: string): number | undefined | string {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : `${flag} must be a positive number (got ${value})`;
}

async function runSandbox(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string' },
        timeout: { type: 'string' },
        'output-chars': { type: 'string' },
        'memory-mb': { type: 'string' },
        'unsafe-no-isolation': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [action, file, ...extra] = positionals;
  if (action !== 'run') return fail(`unknown action ${JSON.stringify(action ?? '')} (expected "run")`);
  if (!file || extra.length > 0) return fail('give exactly one FILE.py');
  const backend = (values.backend ?? 'pyodide') as Backend;
  if (!BACKENDS.includes(backend))
    return fail(`--backend must be one of ${BACKENDS.join(', ')} (got ${values.backend})`);
  const timeout = positiveNumber(values.timeout, '--timeout');
  const outputChars = positiveNumber(values['output-chars'], '--output-chars');
  const memoryMb = positiveNumber(values['memory-mb'], '--memory-mb');
  for (const v of [timeout, outputChars, memoryMb]) if (typeof v === 'string') return fail(v);
  let code: string;
  try {
    code = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message}`);
  }
  const limits = {
    ...(timeout !== undefined && { wallTimeMs: (timeout as number) * 1000 }),
    ...(outputChars !== undefined && { outputChars: Math.floor(outputChars as number) }),
    ...(memoryMb !== undefined && { memoryBytes: (memoryMb as number) * 1024 ** 2 }),
  };
  let pool: SandboxPool;
  try {
    pool = await SandboxPool.create({
      backend,
      size: 1,
      limits,
      isolation: values['unsafe-no-isolation'] ? 'none-unsafe' : 'bwrap',
    });
  } catch (err) {
    console.error(`reasonloop sandbox: ${(err as Error).message}`);
    return 1;
  }
  try {
    const result = await pool.run(code);
    process.stdout.write(formatOutputBlock(result, pool.limits.outputChars));
    const ms = result.wallMs.toFixed(1);
    console.error(
      `sandbox: backend ${backend}, ${ms} ms, ${result.stdoutChars} characters printed` +
        (result.errorKind ? `, error: ${result.errorKind}` : ''),
    );
    return result.error ? 1 : 0;
  } finally {
    await pool.close();
  }
}
