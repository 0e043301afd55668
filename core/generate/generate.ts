/**
 * Batched sampling with per-token log-probs on the Qwen2 decode graph (KV cache). Prompts are left-padded
 * into one batch; every draw comes from the counter-based RNG keyed by (seed, step, prompt, sample,
 * position), so the same request gives the same tokens whatever else is in the batch or however often it
 * is retried. A turn hook lets a caller (the tool protocol) splice tokens into a response mid-generation:
 * those are fed to the model but marked as not sampled, so the RL loss can leave them out.
 */
import { Executable } from '../graph/index.ts';
import type { Feeds, HostTensor } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { buildQwen2Decode, cacheNames } from '../model/qwen2.ts';
import { qwen2Parameters } from '../model/parameters.ts';
import type { SessionConfig } from '../graph/index.ts';
import { uniformAt } from './rng.ts';
import { sampleToken } from './sampling.ts';
import type { SampledToken, SamplingParams } from './sampling.ts';
import { addSamplingHead, headSupports, SAMPLING_HEAD_OUTPUTS, samplingHeadNames } from './samplingHead.ts';

export type FinishReason = 'stop' | 'length';

export interface GenerationRequest {
  promptIds: number[];
  /** RNG coordinates: which prompt of the step, which of its n samples. */
  prompt: number;
  sample: number;
}

/** What the turn hook sees when a stop string ends a turn. */
export interface TurnEnd {
  request: GenerationRequest;
  /** Response tokens so far (sampled and inserted). */
  tokens: readonly number[];
  /** The stop string that matched. */
  stop: string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingParams;
  seed: number;
  /** RL step (an RNG coordinate); 0 outside training. */
  step?: number;
  stopTokenIds?: readonly number[];
  stopStrings?: readonly string[];
  /** Detokenizer for stop strings (required when stopStrings is non-empty). */
  decode?: (ids: number[]) => string;
  /** Fed for finished rows and as the left padding; never attended to. */
  padTokenId?: number;
  /**
   * Called when a stop string ends a turn. Returning tokens continues the response with them inserted
   * (not sampled); returning undefined finishes the response with reason "stop".
   */
  onTurnEnd?: (turn: TurnEnd) => Promise<number[] | undefined> | number[] | undefined;
}

export interface Generation {
  tokens: number[];
  /** log-prob of each token under the policy at the sampling temperature; 0 for inserted tokens. */
  logprobs: number[];
  /** false for tokens inserted by the turn hook (tool output). */
  sampled: boolean[];
  finishReason: FinishReason;
}

interface Row {
  request: GenerationRequest;
  out: Generation;
  done: boolean;
  forced: number[];
  position: number;
}

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
}

/** The decode graph, with the sampling head when asked for. */
function decodeGraph(config: Qwen2Config, weights: Map<string, Float32Array> | undefined, head: boolean) {
  const built = buildQwen2Decode(config, 'float32', weights);
  if (head) addSamplingHead(built.graph, built.logits);
  return built.graph;
}

export class Generator {
  /** The policy version generate calls use: a session (and, for "fed", its weight feeds). */
  private current: Promise<{ exec: Executable; feeds: Feeds }> | undefined;
  /** Generate calls running on each session; a replaced session is released when its count drops to 0. */
  private readonly inUse = new Map<Executable, number>();
  private readonly retired = new Set<Executable>();

  private constructor(
    readonly config: Qwen2Config,
    private readonly options: GeneratorOptions,
  ) {}

  /** Whether the decode graph carries the sampling head. */
  private get hasHead(): boolean {
    return this.options.sampleInGraph ?? this.options.device?.kind === 'cuda';
  }

  static async create(
    config: Qwen2Config,
    weights: Map<string, Float32Array>,
    options: GeneratorOptions = {},
  ): Promise<Generator> {
    const g = new Generator(config, options);
    g.setWeights(weights);
    await g.current;
    return g;
  }

  /**
   * Swaps in new weights (the policy after an update). Generate calls started after this use them; calls
   * already running finish on the old session, which is released afterwards. Safe to call concurrently
   * with generate.
   */
  setWeights(weights: Map<string, Float32Array>): void {
    weightFeeds(this.config, weights); // checks every tensor is there, now rather than later
    const previous = this.current;
    const { weights: placement = 'embedded', sampleInGraph: _, ...session } = this.options;
    const head = this.hasHead;
    this.current = (async () => {
      const old = await previous?.catch(() => undefined);
      if (placement === 'fed') {
        const exec =
          old?.exec ?? (await Executable.compile(decodeGraph(this.config, undefined, head), session));
        return { exec, feeds: weightFeeds(this.config, weights) };
      }
      const exec = await Executable.compile(decodeGraph(this.config, weights, head), session);
      if (old && old.exec !== exec) this.retire(old.exec);
      return { exec, feeds: {} };
    })();
  }

  private retire(exec: Executable): void {
    this.retired.add(exec);
    if (!this.inUse.get(exec)) void this.releaseRetired(exec);
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
      return await this.generateOn(exec, feeds, requests, opts);
    } finally {
      const left = this.inUse.get(exec)! - 1;
      this.inUse.set(exec, left);
      if (left === 0) {
        this.inUse.delete(exec);
        if (this.retired.has(exec)) await this.releaseRetired(exec);
      }
    }
  }

  private async generateOn(
    exec: Executable,
    feeds: Feeds,
    requests: GenerationRequest[],
    opts: GenerateOptions,
  ): Promise<Generation[]> {
    const c = this.config;
    const B = requests.length;
    const pad = opts.padTokenId ?? 0;
    const promptLen = Math.max(...requests.map((r) => r.promptIds.length));
    if (promptLen === 0) throw new Error('every prompt is empty');
    const rows: Row[] = requests.map((request) => ({
      request,
      out: { tokens: [], logprobs: [], sampled: [], finishReason: 'length' },
      done: false,
      forced: [],
      position: request.promptIds.length,
    }));

    // Prefill: left-padded prompts, empty cache. Pad positions get position 1, as HF's generate does.
    const ids = new BigInt64Array(B * promptLen);
    const pos = new BigInt64Array(B * promptLen);
    let mask: HostTensor = { data: new BigInt64Array(B * promptLen), dims: [B, promptLen] };
    requests.forEach((r, b) => {
      const offset = promptLen - r.promptIds.length;
      for (let t = 0; t < promptLen; t++) {
        const real = t >= offset;
        ids[b * promptLen + t] = BigInt(real ? r.promptIds[t - offset] : pad);
        pos[b * promptLen + t] = BigInt(real ? t - offset : 1);
        mask.data[b * promptLen + t] = real ? 1n : 0n;
      }
    });
    // One cache buffer per layer and K/V, sized for the whole response; the graph reads the filled prefix.
    const cache = new KvBuffers(c, B, promptLen + opts.maxNewTokens);
    const draws = new GraphDraws(this.hasHead, headSupports(opts.sampling), rows, opts, exec.outputNames);
    let step = await this.run(
      exec,
      { ...feeds, ...draws.feeds() },
      cache.feeds(),
      ids,
      pos,
      mask,
      promptLen,
      draws.outputs,
    );
    cache.append(step, promptLen);

    for (let n = 0; n < opts.maxNewTokens; n++) {
      const draw = draws.drawer(step, c.vocabSize, opts.sampling);
      const next = new BigInt64Array(B);
      const nextPos = new BigInt64Array(B);
      for (const [b, row] of rows.entries()) {
        if (row.done) {
          next[b] = BigInt(pad);
          continue;
        }
        await this.advance(row, (u) => draw(b, u), opts);
        const last = row.out.tokens[row.out.tokens.length - 1];
        next[b] = BigInt(last);
        nextPos[b] = BigInt(row.position++);
      }
      if (rows.every((r) => r.done) || n === opts.maxNewTokens - 1) break;
      // A finished row keeps its slot with a masked pad token, so the batch stays rectangular.
      mask = growMask(
        mask,
        rows.map((r) => !r.done),
      );
      step = await this.run(
        exec,
        { ...feeds, ...draws.feeds() },
        cache.feeds(),
        next,
        nextPos,
        mask,
        1,
        draws.outputs,
      );
      cache.append(step, 1);
    }
    return rows.map((r) => r.out);
  }

  /**
   * Appends one token to a row (forced or drawn by `draw` from the row's uniform) and decides whether the
   * row is finished.
   */
  private async advance(row: Row, draw: (u: number) => SampledToken, opts: GenerateOptions): Promise<void> {
    const out = row.out;
    if (row.forced.length > 0) {
      out.tokens.push(row.forced.shift()!);
      out.logprobs.push(0);
      out.sampled.push(false);
    } else {
      const s = draw(rowUniform(row, opts));
      out.tokens.push(s.token);
      out.logprobs.push(s.logprob);
      out.sampled.push(true);
      if (opts.stopTokenIds?.includes(s.token)) {
        out.finishReason = 'stop';
        row.done = true;
        return;
      }
      const stop = matchStopString(out.tokens, opts);
      if (stop !== undefined) {
        const inserted = await opts.onTurnEnd?.({ request: row.request, tokens: out.tokens, stop });
        if (inserted !== undefined) row.forced.push(...inserted);
        else {
          out.finishReason = 'stop';
          row.done = true;
          return;
        }
      }
    }
    if (out.tokens.length >= opts.maxNewTokens) row.done = true;
  }

  private async run(
    exec: Executable,
    weights: Feeds,
    cache: Feeds,
    ids: BigInt64Array,
    pos: BigInt64Array,
    attention: HostTensor,
    width: number,
    outputs: readonly string[],
  ) {
    const B = attention.dims[0];
    return exec.run(
      {
        ...weights,
        ...cache,
        input_ids: { data: ids, dims: [B, width] },
        position_ids: { data: pos, dims: [B, width] },
        attention_mask: attention,
      },
      outputs,
    );
  }
}

/** The row's uniform for its next token: coordinates (seed, step, prompt, sample, position). */
function rowUniform(row: Row, opts: GenerateOptions): number {
  return uniformAt(opts.seed, opts.step ?? 0, row.request.prompt, row.request.sample, row.out.tokens.length);
}

/**
 * Where a generate call's tokens are drawn: by the host sampler from the logits, or by the graph's
 * sampling head (then the logits never leave the device). A graph with a head takes its inputs on every
 * run; with settings the head cannot draw (top-k / top-p) they are placeholders and the host draws.
 */
class GraphDraws {
  readonly outputs: readonly string[];
  private readonly inGraph: boolean;

  constructor(
    private readonly hasHead: boolean,
    supported: boolean,
    private readonly rows: readonly Row[],
    private readonly opts: GenerateOptions,
    outputNames: readonly string[],
  ) {
    this.inGraph = hasHead && supported;
    const headOutputs: readonly string[] = SAMPLING_HEAD_OUTPUTS;
    this.outputs = outputNames.filter((n) => (this.inGraph ? n !== 'logits' : !headOutputs.includes(n)));
  }

  /** The head's inputs for the next run: each row's uniform and 1/T. */
  feeds(): Feeds {
    if (!this.hasHead) return {};
    const B = this.rows.length;
    const u = new Float32Array(B);
    const invT = new Float32Array(B).fill(1);
    const T = this.opts.sampling.temperature;
    if (this.inGraph)
      this.rows.forEach((row, b) => {
        u[b] = rowUniform(row, this.opts);
        if (T > 0) invT[b] = 1 / T;
      });
    return {
      [samplingHeadNames.uniform]: { data: u, dims: [B] },
      [samplingHeadNames.inverseTemperature]: { data: invT, dims: [B] },
    };
  }

  /** Draws row b's token from a run's outputs. */
  drawer(
    step: Record<string, HostTensor>,
    vocab: number,
    params: SamplingParams,
  ): (b: number, u: number) => SampledToken {
    if (!this.inGraph) {
      const logits = step.logits.data as Float32Array;
      return (b, u) => sampleToken(logits.subarray(b * vocab, (b + 1) * vocab), params, u);
    }
    const greedy = params.temperature === 0;
    const tokens = step[greedy ? samplingHeadNames.greedyToken : samplingHeadNames.token]
      .data as BigInt64Array;
    const logprobs = step[greedy ? samplingHeadNames.greedyLogprob : samplingHeadNames.logprob]
      .data as Float32Array;
    return (b) => {
      const logprob = logprobs[b];
      const s: SampledToken = { token: Number(tokens[b]), logprob, samplingLogprob: greedy ? 0 : logprob };
      // headSupports() admits rawLogprob only at T = 0 or 1, where it equals the log-prob.
      if (params.rawLogprob) s.rawLogprob = logprob;
      return s;
    };
  }
}

/**
 * The KV cache on the host: per layer and K/V a [batch, kvHeads, capacity, headDim] buffer, fed whole to
 * every run (inputs cross into onnxruntime without a copy) and extended with each run's new positions.
 */
export class KvBuffers {
  private readonly keys: Float32Array[] = [];
  private readonly values: Float32Array[] = [];
  private length = 0;

  constructor(
    private readonly c: Qwen2Config,
    private readonly batch: number,
    private readonly capacity: number,
  ) {
    const size = batch * c.numKeyValueHeads * capacity * c.headDim;
    for (let i = 0; i < c.numHiddenLayers; i++) {
      this.keys.push(new Float32Array(size));
      this.values.push(new Float32Array(size));
    }
  }

  feeds(): Feeds {
    const dims = [this.batch, this.c.numKeyValueHeads, this.capacity, this.c.headDim];
    const f: Feeds = {};
    for (let i = 0; i < this.c.numHiddenLayers; i++) {
      f[cacheNames.pastKey(i)] = { data: this.keys[i], dims };
      f[cacheNames.pastValue(i)] = { data: this.values[i], dims };
    }
    return f;
  }

  /** Copies the run's new positions [batch, kvHeads, added, headDim] in after the filled ones. */
  append(step: Record<string, HostTensor>, added: number): void {
    const D = this.c.headDim;
    const rows = this.batch * this.c.numKeyValueHeads;
    for (let i = 0; i < this.c.numHiddenLayers; i++) {
      for (const [buffer, name] of [
        [this.keys[i], cacheNames.presentKey(i)],
        [this.values[i], cacheNames.presentValue(i)],
      ] as const) {
        const fresh = step[name].data as Float32Array;
        for (let r = 0; r < rows; r++)
          buffer.set(
            fresh.subarray(r * added * D, (r + 1) * added * D),
            (r * this.capacity + this.length) * D,
          );
      }
    }
    this.length += added;
  }
}

/** The attention mask one column wider: 1 for rows still generating, 0 for finished ones. */
export function growMask(mask: HostTensor, active: boolean[]): HostTensor {
  const [B, L] = mask.dims;
  const data = new BigInt64Array(B * (L + 1));
  const old = mask.data as BigInt64Array;
  for (let b = 0; b < B; b++) {
    data.set(old.subarray(b * L, (b + 1) * L), b * (L + 1));
    data[b * (L + 1) + L] = active[b] ? 1n : 0n;
  }
  return { data, dims: [B, L + 1] };
}

/** HF-named weights as graph feeds, each checked to exist. */
export function weightFeeds(config: Qwen2Config, weights: Map<string, Float32Array>): Feeds {
  const feeds: Feeds = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights: missing tensor ${p.name}`);
    feeds[p.name] = { data, dims: p.shape };
  }
  return feeds;
}

/**
 * The stop string that the newest token completes, if any. Only a tail long enough to contain a match is
 * decoded, and a match must end inside the newest token's text (tokens may run past the stop string).
 */
export function matchStopString(tokens: readonly number[], opts: GenerateOptions): string | undefined {
  const stops = opts.stopStrings;
  if (!stops || stops.length === 0 || !opts.decode || tokens.length === 0) return undefined;
  const longest = Math.max(...stops.map((s) => s.length));
  // A token decodes to at least one character, so the last `longest` tokens (plus the newest) hold any match.
  const tail = opts.decode(tokens.slice(-(longest + 1)));
  const newest = opts.decode(tokens.slice(-1)).length;
  return stops.find((s) => {
    const at = tail.lastIndexOf(s);
    return at >= 0 && at + s.length > tail.length - newest;
  });
}
