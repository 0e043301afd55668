/**
 * The public face of generation: a `Generator` holds the compiled decode graph of one policy version
 * and generates batches on it. Prompts are left-padded into one batch; every draw comes from the
 * counter-based RNG keyed by (seed, step, prompt, sample, position), so the same request gives the same
 * tokens whatever else is in the batch or however often it is retried. The tokens are drawn on the host
 * (hostDecode.ts) or, with the sampling head, in the graph several per run (graphDecode.ts). A turn hook
 * lets a caller (the tool protocol) splice tokens into a response mid-generation: those are fed to the
 * model but marked as not sampled, so the RL loss can leave them out.
 */
import { Executable } from '../graph/index.ts';
import { isFileRegion } from '../graph/index.ts';
import type { Feeds, FileRegion, SessionConfig } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { buildQwen2Decode, type WeightDtype } from '../model/qwen2.ts';
import { qwen2Parameters } from '../model/parameters.ts';
import { weightFeeds } from '../model/weightFeeds.ts';
import { loraFeeds } from '../model/loraGraph.ts';
import type { LoraSpec } from '../model/lora.ts';
import { buildDecodeLoop } from './decodeLoop.ts';
import type { GenerateOptions, Generation, GenerationRequest } from './generation.ts';
import { graphDecode } from './graphDecode.ts';
import { hostDecode } from './hostDecode.ts';
import { headSupports } from './samplingHead.ts';

/**
 * How weights reach the decode graph. "embedded" (default) compiles them into the session as constant
 * initializers, which lets onnxruntime pre-pack the matrices (≈15% faster decode steps on bench-25m); a
 * weight swap then recompiles (once per policy version, on the next generate call). "fed" passes them as
 * inputs on every run: no recompilation, for callers that swap weights more often than they generate.
 */
export type WeightPlacement = 'embedded' | 'fed';

export interface GeneratorOptions extends SessionConfig {
  weights?: WeightPlacement;
  /**
   * Draw tokens inside the graph (samplingHead.ts) when the settings allow it: only the drawn tokens and
   * their log-probs come back instead of the logits. Default: on for cuda, off for cpu (on the CPU the
   * host sampler costs little and is bit-exact across machines).
   */
  sampleInGraph?: boolean;
  /**
   * Tokens drawn per session run when the graph draws (decodeLoop.ts): the KV cache crosses to the
   * device once per run. Default: 16 on cuda, 1 on cpu (where inputs cross without a copy anyway).
   */
  decodeChunk?: number;
  /**
   * "float16": the matrix weights (projections, embedding, LM head) at half precision, products accumulated
   * in float32 on the GPU (qwen2.ts `linear`): half the weight bytes a decode step reads. Tokens then differ
   * from float32 weights' where candidates are within half-precision rounding. Default "float32".
   */
  weightDtype?: WeightDtype;
  /**
   * LoRA: the graph adds each adapted Linear's s·(x·Aᵀ)·Bᵀ to x·Wᵀ, the adapters fed on every run, so a
   * new policy version swaps only the adapters (setWeights with the same base weights) and the base stays
   * compiled in, mapped from its files where it can be (no merged copy of the model).
   */
  lora?: LoraSpec;
}

/**
 * A policy's weights by HF name: arrays, or (for a model directory read from disk) regions of its float32
 * safetensors files, which the "embedded" session maps instead of copying (core/model/weightFiles.ts).
 */
export type GeneratorWeights = Map<string, Float32Array> | Map<string, FileRegion>;

/** The decode graph; with the sampling head, also the loop that draws several tokens per run. */
function decodeGraph(
  config: Qwen2Config,
  weights: Map<string, Float32Array | FileRegion> | undefined,
  head: boolean,
  weightDtype: WeightDtype,
  lora: LoraSpec | undefined,
) {
  return head
    ? buildDecodeLoop(config, weights, weightDtype, lora).graph
    : buildQwen2Decode(config, 'float32', weights, true, weightDtype, lora).graph;
}

export const DEFAULT_CUDA_DECODE_CHUNK = 16;

export class Generator {
  /** The policy version generate calls use: a session (and, for "fed", its weight feeds). */
  private current: Promise<{ exec: Executable; feeds: Feeds }> | undefined;
  /** Generate calls running on each session; a replaced session is released when its count drops to 0. */
  private readonly inUse = new Map<Executable, number>();
  private readonly retired = new Set<Executable>();

  /** The weights `current` was built from. */
  private weights: GeneratorWeights | undefined;

  /** Tokens per run on the in-graph path. */
  private readonly chunk: number;

  private constructor(
    readonly config: Qwen2Config,
    private readonly options: GeneratorOptions,
  ) {
    const k = options.decodeChunk ?? (options.device?.kind === 'cuda' ? DEFAULT_CUDA_DECODE_CHUNK : 1);
    if (!(Number.isInteger(k) && k >= 1))
      throw new Error(`decodeChunk must be a positive integer (got ${k})`);
    this.chunk = k;
  }

  /** Whether the decode graph carries the sampling head. */
  private get hasHead(): boolean {
    return this.options.sampleInGraph ?? this.options.device?.kind === 'cuda';
  }

  static async create(
    config: Qwen2Config,
    weights: GeneratorWeights,
    options: GeneratorOptions = {},
    adapters?: ReadonlyMap<string, Float32Array>,
  ): Promise<Generator> {
    const g = new Generator(config, options);
    g.setWeights(weights, adapters);
    await g.current;
    return g;
  }

  /**
   * Swaps in new weights (the policy after an update). Generate calls started after this use them; calls
   * already running finish on the old session, which is released before the new one compiles. The same
   * map again (a caller that swaps in whatever it holds) keeps the session, and with LoRA swaps only the
   * `adapters` (required exactly when the generator was created with `lora`). Safe to call concurrently
   * with generate.
   */
  setWeights(weights: GeneratorWeights, adapters?: ReadonlyMap<string, Float32Array>): void {
    const { lora } = this.options;
    if (!lora !== !adapters)
      throw new Error(lora ? 'weights: LoRA adapters are missing' : 'weights: adapters need the lora option');
    const adapterFeeds = lora ? loraFeeds(this.config, lora, adapters!) : {};
    if (weights === this.weights && this.current) {
      if (lora)
        this.current = this.current.then((c) => ({ exec: c.exec, feeds: { ...c.feeds, ...adapterFeeds } }));
      return;
    }
    // Every tensor there, now rather than later; weights fed on each run must be arrays.
    const arrays = [...weights.values()].every((w) => !isFileRegion(w));
    if (arrays) weightFeeds(this.config, weights as Map<string, Float32Array>);
    else {
      const missing = qwen2Parameters(this.config).find((p) => !weights.has(p.name));
      if (missing) throw new Error(`weights: missing tensor ${missing.name}`);
      if (this.options.weights === 'fed')
        throw new Error('weights "fed" on every run need arrays, not files');
    }
    const previous = this.current;
    this.weights = weights;
    const {
      weights: placement = 'embedded',
      weightDtype = 'float32',
      sampleInGraph: _,
      decodeChunk: __,
      lora: ___,
      ...session
    } = this.options;
    const head = this.hasHead;
    this.current = (async () => {
      const old = await previous?.catch(() => undefined);
      if (placement === 'fed') {
        const exec =
          old?.exec ??
          (await Executable.compile(decodeGraph(this.config, undefined, head, weightDtype, lora), session));
        const feeds = weightFeeds(this.config, weights as Map<string, Float32Array>, weightDtype);
        return { exec, feeds: { ...feeds, ...adapterFeeds } };
      }
      // The old session goes first (once no call runs on it): two policies of a real-size model side by
      // side would double the generator's memory for the time of the swap.
      if (old) await this.retire(old.exec);
      const graph = decodeGraph(this.config, weights, head, weightDtype, lora);
      return { exec: await Executable.compile(graph, session), feeds: adapterFeeds };
    })();
    // A failed build is not kept for the same weights: the next swap builds again.
    this.current.catch(() => {
      if (this.weights === weights) this.weights = undefined;
    });
  }

  private async retire(exec: Executable): Promise<void> {
    this.retired.add(exec);
    if (!this.inUse.get(exec)) await this.releaseRetired(exec);
  }

  private async releaseRetired(exec: Executable): Promise<void> {
    this.retired.delete(exec);
    await exec.release();
  }

  async generate(requests: GenerationRequest[], opts: GenerateOptions): Promise<Generation[]> {
    if (requests.length === 0) return [];
    if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens > 0))
      throw new Error(`maxNewTokens must be a positive integer (got ${opts.maxNewTokens})`);
    if ((opts.stopStrings?.length ?? 0) > 0 && !opts.decode)
      throw new Error('stopStrings need a decode function');
    const { exec, feeds } = await this.current!;
    this.inUse.set(exec, (this.inUse.get(exec) ?? 0) + 1);
    try {
      if (this.hasHead && headSupports(opts.sampling))
        return await graphDecode(exec, feeds, this.config, this.chunk, requests, opts);
      return await hostDecode(exec, feeds, this.config, this.hasHead, requests, opts);
    } finally {
      const left = this.inUse.get(exec)! - 1;
      this.inUse.set(exec, left);
      if (left === 0) {
        this.inUse.delete(exec);
        if (this.retired.has(exec)) await this.releaseRetired(exec);
      }
    }
  }
}
