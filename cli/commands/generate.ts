/**
 * `reasonloop generate`: sample from a model directory with the same code path rollouts use, and see the
 * per-token log-probs the trainer will get.
 */
import { parseArgs } from 'node:util';
import { loadModelDirFiles, loadWeights } from '../../core/model/modelDir.ts';
import { weightRegions } from '../../core/model/weightFiles.ts';
import { QwenTokenizer } from '../../core/model/tokenizer.ts';
import { Generator } from '../../core/generate/generator.ts';
import { parseDeviceFlags } from '../../core/config/device.ts';
import { checkDevice } from '../../core/graph/device.ts';
import { WEIGHT_DTYPES, type WeightDtype } from '../../core/model/weightDtype.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]

  --model DIR           a Hugging Face Qwen2 model directory (config.json, *.safetensors[, tokenizer])
  --prompt TEXT         encoded with the directory's tokenizer.json
  --prompt-ids IDS      comma-separated token ids (no tokenizer needed; text is then omitted)
  --chat                wrap the prompt as a user turn with the model's chat template
  --max-new-tokens N    default 128
  --temperature T       default 1.0; 0 = greedy
  --top-p P             nucleus sampling (default off)
  --top-k K             default off
  --seed S              uint32, default 0
  --threads N           onnxruntime intra-op threads (default 1)
  --device D            cpu (default), cuda or cuda:N: ORT's CUDA provider, checked first (docs/gpu.md)
  --weight-dtype T      float32 (default) or float16: half-precision matrix weights (docs/gpu.md)
  --json                print {"tokens","logprobs","text","finishReason"}`;

export const generateCommand: Command = {
  name: 'generate',
  describe: 'sample a response from a model directory, with per-token log-probs',
  run: runGenerate,
};

function fail(message: string): number {
  console.error(`reasonloop generate: ${message}\n\n${HELP}`);
  return EXIT_USAGE;
}

function numberArg(value: string | undefined, name: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be a${integer ? 'n integer' : ' number'} (got ${value})`);
  return n;
}

async function runGenerate(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        'prompt-ids': { type: 'string' },
        chat: { type: 'boolean' },
        'max-new-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        'top-k': { type: 'string' },
        seed: { type: 'string' },
        threads: { type: 'string' },
        device: { type: 'string' },
        'weight-dtype': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (!args.model) return fail('--model is required');
  if ((args.prompt === undefined) === (args['prompt-ids'] === undefined))
    return fail('give exactly one of --prompt and --prompt-ids');
  let maxNewTokens, temperature, topP, topK, seed, threads, device;
  try {
    device = parseDeviceFlags({ device: args.device });
    maxNewTokens = numberArg(args['max-new-tokens'], 'max-new-tokens', 128, true);
    temperature = numberArg(args.temperature, 'temperature', 1);
    topP = numberArg(args['top-p'], 'top-p', 1);
    topK = numberArg(args['top-k'], 'top-k', 0, true);
    seed = numberArg(args.seed, 'seed', 0, true);
    threads = numberArg(args.threads, 'threads', 1, true);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (maxNewTokens < 1) return fail(`--max-new-tokens must be ≥ 1 (got ${maxNewTokens})`);
  if (temperature < 0) return fail(`--temperature must be ≥ 0 (got ${temperature})`);
  const weightDtype = args['weight-dtype'] ?? 'float32';
  if (!(WEIGHT_DTYPES as readonly string[]).includes(weightDtype))
    return fail(`--weight-dtype must be one of ${WEIGHT_DTYPES.join(', ')} (got ${weightDtype})`);

  // Before loading weights: a cuda run on a machine without a usable GPU ends here, naming what is missing.
  await checkDevice(device);
  const model = loadModelDirFiles(args.model, {
    requireTokenizer: args.prompt !== undefined || args.chat === true,
  });
  // On the CPU, float32 weights stay in their safetensors files and onnxruntime maps them (one copy);
  // otherwise (or when the folder cannot take the graph file) they are read into arrays.
  const regions =
    device.kind === 'cpu' && weightDtype === 'float32' ? weightRegions(args.model, model.config) : undefined;
  if (regions && 'reason' in regions)
    console.error(`reasonloop generate: reading the weights into memory: ${regions.reason}`);
  const weights = regions && 'regions' in regions ? regions.regions : loadWeights(args.model, model.config);
  const tokenizer = model.tokenizer ? new QwenTokenizer(model.tokenizer) : undefined;
  let promptIds: number[];
  if (args['prompt-ids'] !== undefined) {
    promptIds = args['prompt-ids'].split(',').map((s) => Number(s.trim()));
    const bad = promptIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= model.config.vocabSize);
    if (bad >= 0)
      return fail(`--prompt-ids: entry ${bad} is not a token id below vocab_size ${model.config.vocabSize}`);
    if (args.chat)
      promptIds = tokenizer!.encodeChat([{ role: 'user', content: tokenizer!.decode(promptIds) }], {
        addGenerationPrompt: true,
      });
  } else {
    promptIds = args.chat
      ? tokenizer!.encodeChat([{ role: 'user', content: args.prompt! }], { addGenerationPrompt: true })
      : tokenizer!.encode(args.prompt!);
  }
  if (promptIds.length === 0) return fail('the prompt encodes to no tokens');

  const generationEos = model.generationConfig?.eos_token_id;
  const stopTokenIds = [
    ...model.config.eosTokenId,
    ...(Array.isArray(generationEos)
      ? generationEos
      : typeof generationEos === 'number'
        ? [generationEos]
        : []),
  ];
  const generator = await Generator.create(model.config, weights, {
    intraOpThreads: threads,
    device,
    weightDtype: weightDtype as WeightDtype,
  });
  const [out] = await generator.generate([{ promptIds, prompt: 0, sample: 0 }], {
    maxNewTokens,
    sampling: { temperature, topP, topK },
    seed,
    stopTokenIds,
  });
  const text = tokenizer?.decode(out.tokens);
  if (args.json) {
    const result: Record<string, unknown> = { tokens: out.tokens, logprobs: out.logprobs };
    if (text !== undefined) result.text = text;
    result.finishReason = out.finishReason;
    console.log(JSON.stringify(result));
  } else {
    console.log(text ?? out.tokens.join(','));
    console.error(`(${out.tokens.length} tokens, finish: ${out.finishReason})`);
  }
  return 0;
}
