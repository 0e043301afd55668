/**
 * `npm run bench:scale`: RL at real shapes through the real workflow and workers, on a stack of its own.
 * A Qwen2.5-0.5B-shaped policy (full-parameter AdamW) and a Qwen2.5-1.5B-shaped one (LoRA rank 16 on every
 * linear layer), random weights and the real Qwen tokenizer, 4 prompts × 4 samples × 256 new tokens: step 1
 * (sample → score → update → checkpoint), the trainer worker killed, step 2 resumed from the checkpoint
 * (bench/scale/endToEnd.ts). Then the same update step in PyTorch (HF Qwen2ForCausalLM, PEFT for LoRA),
 * with and without gradient checkpointing, each in its own process. Prints seconds per phase, peak RSS per
 * worker role, checkpoint bytes, the trainer's memory estimate (`reasonloop plan`'s) against its measured
 * peak; last line:
 * {"bench":"scale","models":[{"name":…,"params":…,"peakRssGB":…,"updateSeconds":…,"torchUpdateSeconds":…,
 *   "updateVsTorch":…,"torchPeakRssGB":…,"rssVsTorch":…},…]}
 *
 * `updateVsTorch` holds PyTorch's step against the `update` phase of our updatePolicy (forward, backward and
 * AdamW: the same work); `updateSeconds` is the whole activity, reading and writing the state included.
 *
 *   npm run bench:scale [-- --shapes qwen2.5-0.5b,qwen2.5-1.5b] [--max-new-tokens 256] [--no-torch]
 *     [--lora-base-dtype float16|float32]   (the LoRA base's frozen matrices; default float16)
 *     [--recompute full|selective]   (algorithm.gradientCheckpointing true or "selective"; default selective)
 *     [--state-dir DIR]   (the stack's folder, wiped at start; default under the cache)
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { memoryPlan } from '../core/config/memoryPlan.ts';
import { parseRunConfig } from '../core/config/run.ts';
import { qwen2ParameterCount } from '../core/model/parameters.ts';
import { shapeConfig, writeTestModelDir, type ModelShape } from '../core/model/testModelDir.ts';
import { SHARED_TEST_BUCKET, stackDown, stackUp } from '../infra/sharedStack.ts';
import { cacheRoot } from './rollout/workload.ts';
import { runConfig, runEndToEnd, type EndToEndOptions, type EndToEndResult } from './scale/endToEnd.ts';
import { torchUpdate, type TorchUpdate } from './scale/torchUpdate.ts';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'qwen2.5-0.5b,qwen2.5-1.5b' },
    'max-new-tokens': { type: 'string', default: '256' },
    'no-torch': { type: 'boolean', default: false },
    'lora-base-dtype': { type: 'string', default: 'float16' },
    recompute: { type: 'string', default: 'selective' },
    'state-dir': { type: 'string' },
  },
});
const loraBaseDtype = values['lora-base-dtype'];
if (loraBaseDtype !== 'float16' && loraBaseDtype !== 'float32')
  throw new Error(`--lora-base-dtype: float16 or float32, not ${loraBaseDtype}`);
const recompute = values.recompute;
if (recompute !== 'full' && recompute !== 'selective')
  throw new Error(`--recompute: full or selective, not ${recompute}`);
const MODELS: Record<string, { lora?: { rank: number } }> = {
  'qwen2.5-0.5b': {},
  'qwen2.5-1.5b': { lora: { rank: 16 } },
  'qwen2.5-tiny': { lora: { rank: 4 } },
};
const PROMPTS = 4;
const SAMPLES = 4;
const MICRO_BATCH = 4;
/** The chat template around a synthetic arithmetic problem, in Qwen tokens (about; the torch batch's prompt). */
const PROMPT_TOKENS = 40;

/** The model dir of a shape under the cache, made once (staged, then renamed into place). */
function modelDir(shape: ModelShape): string {
  const dir = join(cacheRoot(), 'bench', 'scale', shape);
  if (existsSync(join(dir, 'config.json'))) return dir;
  const staged = `${dir}.partial`;
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true });
  console.log(`writing ${shape} (random weights, Qwen tokenizer) to ${dir}`);
  writeTestModelDir(staged, shapeConfig(shape), { seed: 0, tokenizer: 'qwen', maxShardSize: '2GB' });
  renameSync(staged, dir);
  return dir;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

function report(name: string, e: EndToEndResult, planGB: number, torch: TorchUpdate[]) {
  console.log(
    `${name}: run ${e.runId} ${e.completed ? 'completed both steps' : 'DID NOT COMPLETE'} in ${round(e.seconds, 0)} s`,
  );
  for (const s of e.steps)
    console.log(
      `  step ${s.step}: sample ${round(s.sampleSeconds, 1)} s, score ${round(s.scoreSeconds, 1)} s, update ${round(s.updateSeconds, 1)} s (of which the step ${round(s.updateStepSeconds, 1)} s); trainer peak RSS by phase (GB) ${Object.entries(
        s.updatePeaksGB,
      )
        .map(([phase, gb]) => `${phase} ${round(gb)}`)
        .join(', ')}`,
    );
  console.log(
    `  peak RSS per role (GB): ${JSON.stringify(Object.fromEntries(Object.entries(e.peakRssGB).map(([k, v]) => [k, round(v)])))}; checkpoint ${e.checkpointBytes.toLocaleString('en-US')} bytes`,
  );
  console.log(
    `  trainer estimate (reasonloop plan) ${round(planGB)} GB vs measured ${round(e.peakRssGB.trainer)} GB: ${round(planGB / e.peakRssGB.trainer)}×`,
  );
  for (const t of torch)
    console.log(
      'error' in t
        ? `  PyTorch ${t.mode}: unavailable (${t.error})`
        : `  PyTorch ${t.mode}: update ${t.seconds} s, peak RSS ${t.peakRssGB} GB, loss ${t.loss}`,
    );
}

const stateDir = values['state-dir'] ?? join(cacheRoot(), 'bench', 'scale-stack');
const stack = await stackUp(stateDir, { fresh: true });
const models = [];
try {
  for (const name of values.shapes!.split(',')) {
    const spec = MODELS[name];
    if (!spec) throw new Error(`--shapes: unknown shape ${name} (one of ${Object.keys(MODELS).join(', ')})`);
    const dir = modelDir(name as ModelShape);
    const options: EndToEndOptions = {
      name,
      modelDir: dir,
      lora: spec.lora && { ...spec.lora, baseDtype: loraBaseDtype },
      storeUrl: `s3://${SHARED_TEST_BUCKET}/scale`,
      env: stack.env,
      logDir: join(stateDir, 'logs'),
      prompts: PROMPTS,
      samples: SAMPLES,
      maxNewTokens: Number(values['max-new-tokens']),
      microBatchSize: MICRO_BATCH,
      // Above the longest single onnxruntime run (one micro-batch: ≈ 40 s for the 0.5B update on the quiet
      // machine, several times that under load), and short enough that the update the killed trainer had
      // been handed is retried soon: the server learns of the death only when no heartbeat comes.
      heartbeatTimeoutSeconds: 240,
      recompute: recompute === 'full' ? true : 'selective',
    };
    const e = await runEndToEnd(options);
    const run = parseRunConfig(runConfig(options, 'plan'));
    const config = shapeConfig(name as ModelShape);
    const planGB = memoryPlan(config, run, PROMPT_TOKENS).find((r) => r.role === 'trainer')!.total / 1e9;
    const torch = values['no-torch']
      ? []
      : (['checkpointing', 'plain'] as const).map((mode) =>
          torchUpdate(dir, mode, {
            rows: PROMPTS * SAMPLES,
            micro: MICRO_BATCH,
            prompt: PROMPT_TOKENS,
            response: options.maxNewTokens,
            loraRank: spec.lora?.rank ?? 0,
          }),
        );
    report(name, e, planGB, torch);
    const ok = torch.filter((t): t is Exclude<TorchUpdate, { error: string }> => !('error' in t));
    const same = ok.find((t) => t.mode === 'checkpointing');
    const update = e.steps[0]?.updateSeconds ?? NaN;
    const updateStep = e.steps[0]?.updateStepSeconds ?? NaN;
    models.push({
      name,
      params: qwen2ParameterCount(config),
      completed: e.completed,
      peakRssGB: round(e.peakRssGB.trainer),
      ...(spec.lora ? { loraBaseDtype } : {}),
      recompute: options.recompute === true ? 'full' : options.recompute,
      updateSeconds: round(update, 1),
      updateStepSeconds: round(updateStep, 1),
      torchUpdateSeconds: same ? same.seconds : null,
      updateVsTorch: same ? round(same.seconds / updateStep) : null,
      torchPeakRssGB: same ? same.peakRssGB : null,
      rssVsTorch: same ? round(e.peakRssGB.trainer / same.peakRssGB) : null,
      planVsPeak: round(planGB / e.peakRssGB.trainer),
    });
  }
} finally {
  await stackDown(stateDir);
}
console.log(JSON.stringify({ bench: 'scale', models }));
