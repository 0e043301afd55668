/**
 * `reasonloop verify`: audit the verifier on your own data.
 *   reasonloop verify --cases FILE.jsonl   lines {"gold":…,"pred":…} (extra fields kept) → one JSON line per
 *                                          case with `equal` and `reason`, then a summary line
 *   reasonloop verify --gold G --pred P    one pair
 * A case may override `mode`, `precision`, `strict`, `allowSetRelationComp` (or Math-Verify's
 * `allow_set_relation_comp`); a case with `expected` (or `result`) 0/1 is counted in `agreement`.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ExtractionMode } from '../../core/reward/verify/extract.ts';
import { verifyAnswer, type VerifyOptions } from '../../core/reward/verify/verifyAnswer.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop verify --cases FILE.jsonl [options]
       reasonloop verify --gold G --pred P [options]

  --cases FILE        JSON Lines of {"gold": …, "pred": …}; "-" reads standard input
  --gold G --pred P   compare one pair (gold first: the relation is not symmetric)
  --mode M            latex | expr | latex+expr (default latex+expr)
  --precision N       decimal places numbers must agree to (default 6)
  --time-limit-ms N   per comparison (default 250)
  --no-strict         variable names need not match (f(x) = f(y))`;

const MODES: readonly ExtractionMode[] = ['latex', 'expr', 'latex+expr'];

export const verifyCommand: Command = {
  name: 'verify',
  describe: 'check answers against gold answers with the math verifier (audit it on your data)',
  run: runVerify,
};

async function runVerify(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        cases: { type: 'string' },
        gold: { type: 'string' },
        pred: { type: 'string' },
        mode: { type: 'string' },
        precision: { type: 'string' },
        'time-limit-ms': { type: 'string' },
        'no-strict': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`reasonloop verify: ${(err as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const options = baseOptions(args);
  if (typeof options === 'string') {
    console.error(`reasonloop verify: ${options}`);
    return EXIT_USAGE;
  }
  if (args.cases !== undefined) {
    if (args.gold !== undefined || args.pred !== undefined) {
      console.error('reasonloop verify: give either --cases or --gold/--pred, not both');
      return EXIT_USAGE;
    }
    return verifyCases(args.cases, options);
  }
  if (args.gold === undefined || args.pred === undefined) {
    console.error(`reasonloop verify: need --cases FILE, or both --gold and --pred\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const v = verifyAnswer(args.gold, args.pred, options);
  console.log(JSON.stringify({ gold: args.gold, pred: args.pred, ...v }));
  return 0;
}

function baseOptions(args: Record<string, string | boolean | undefined>): VerifyOptions | string {
  const o: VerifyOptions = {};
  if (args.mode !== undefined) {
    if (!MODES.includes(args.mode as ExtractionMode))
      return `--mode must be one of ${MODES.join(', ')} (got ${args.mode})`;
    o.mode = args.mode as ExtractionMode;
  }
  for (const [flag, key] of [
    ['precision', 'precision'],
    ['time-limit-ms', 'timeLimitMs'],
  ] as const) {
    const raw = args[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) return `--${flag} must be a non-negative integer (got ${raw})`;
    o[key] = n;
  }
  if (args['no-strict']) o.strict = false;
  return o;
}

/** Per-case overrides, in our spelling or Math-Verify's. */
function caseOptions(row: Record<string, unknown>, base: VerifyOptions): VerifyOptions {
  const o = { ...base };
  if (typeof row.mode === 'string' && MODES.includes(row.mode as ExtractionMode))
    o.mode = row.mode as ExtractionMode;
  if (typeof row.precision === 'number') o.precision = row.precision;
  if (typeof row.strict === 'boolean') o.strict = row.strict;
  const setRel = row.allowSetRelationComp ?? row.allow_set_relation_comp;
  if (typeof setRel === 'boolean') o.allowSetRelationComp = setRel;
  return o;
}

async function verifyCases(path: string, base: VerifyOptions): Promise<number> {
  const input = path === '-' ? process.stdin : createReadStream(path, 'utf8');
  let opened = true;
  input.on('error', (err: Error) => {
    opened = false;
    console.error(`reasonloop verify: cannot read ${path}: ${err.message}`);
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  const summary = { summary: true, cases: 0, equal: 0, notEqual: 0, skipped: 0, withExpected: 0, agree: 0 };
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line);
        if (row === null || typeof row !== 'object' || Array.isArray(row))
          throw new Error('not a JSON object');
        if (typeof row.gold !== 'string' && typeof row.gold !== 'number')
          throw new Error('"gold" must be a string');
        if (typeof row.pred !== 'string' && typeof row.pred !== 'number')
          throw new Error('"pred" must be a string');
      } catch (err) {
        summary.skipped++;
        console.log(JSON.stringify({ line: lineNo, error: `${path}:${lineNo}: ${(err as Error).message}` }));
        continue;
      }
      const v = verifyAnswer(String(row.gold), String(row.pred), caseOptions(row, base));
      summary.cases++;
      if (v.equal) summary.equal++;
      else summary.notEqual++;
      const expected = row.expected ?? row.result;
      if (expected === 0 || expected === 1 || typeof expected === 'boolean') {
        summary.withExpected++;
        if (Boolean(expected) === v.equal) summary.agree++;
      }
      console.log(
        JSON.stringify({
          ...row,
          equal: v.equal,
          reason: v.reason,
          goldAnswer: v.goldAnswer,
          predAnswer: v.predAnswer,
        }),
      );
    }
  } catch (err) {
    if (opened) console.error(`reasonloop verify: cannot read ${path}: ${(err as Error).message}`);
    return 1;
  }
  if (!opened) return 1;
  const agreement = summary.withExpected > 0 ? summary.agree / summary.withExpected : undefined;
  console.log(JSON.stringify({ ...summary, ...(agreement === undefined ? {} : { agreement }) }));
  return 0;
}
