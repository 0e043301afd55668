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
import { buildQwen2Decode, cacheNames, isMatrixWeight, type WeightDtype } from '../model/qwen2.ts';
import { toFloat16 } from '../graph/dtype.ts';
import { qwen2Parameters } from '../model/parameters.ts';
import type { SessionConfig } from '../graph/index.ts';
import { uniformAt } from '../random.ts';
import { sampleToken } from './sampling.ts';
import type { SampledToken, SamplingParams } from './sampling.ts';
import { headSupports, SAMPLING_HEAD_OUTPUTS, samplingHeadNames } from './samplingHead.ts';
import { buildDecodeLoop, decodeLoopNames } from './decodeLoop.ts';

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
}

/** The decode graph; with the sampling head, also the loop that draws several tokens per run. */
function decodeGraph(
  config: Qwen2Config,
  weights: Map<string, Float32Array> | undefined,
  head: boolean,
  weightDtype: WeightDtype,
) {
  return head
    ? buildDecodeLoop(config, weights, weightDtype).graph
    : buildQwen2Decode(config, 'float32', weights, true, weightDtype).graph;
}

export const DEFAULT_CUDA_DECODE_CHUNK = 16;

export class Generator {
  /** The policy version generate calls use: a session (and, for "fed", its weight feeds). */
  private current: Promise<{ exec: Executable; feeds: Feeds }> | undefined;
  /** Generate calls running on each session; a replaced session is released when its count drops to 0. */
  private readonly inUse = new Map<Executable, number>();
  private readonly retired = new Set<Executable>();

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
    const {
      weights: placement = 'embedded',
      weightDtype = 'float32',
      sampleInGraph: _,
      decodeChunk: __,
      ...session
    } = this.options;
    const head = this.hasHead;
    this.current = (async () => {
      const old = await previous?.catch(() => undefined);
      if (placement === 'fed') {
        const exec =
          old?.exec ??
          (await Executable.compile(decodeGraph(this.config, undefined, head, weightDtype), session));
        return { exec, feeds: weightFeeds(this.config, weights, weightDtype) };
      }
      const exec = await Executable.compile(decodeGraph(this.config, weights, head, weightDtype), session);
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
      if (this.hasHead && headSupports(opts.sampling))
        return await this.generateInGraph(exec, feeds, requests, opts);
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
    const prefill = prefillBatch(requests, pad);
    const { rows, ids, pos, promptLen } = prefill;
    let mask = prefill.mask;
    // One cache buffer per layer and K/V, sized for the whole response; the graph reads the filled prefix.
    const cache = new KvBuffers(c, B, promptLen + opts.maxNewTokens);
    const head = new HeadPlaceholders(this.hasHead, B, exec.outputNames);
    let step = await this.run(
      exec,
      { ...feeds, ...head.feeds() },
      cache.feeds(),
      ids,
      pos,
      mask,
      promptLen,
      head.outputs,
    );
    cache.append(step, promptLen);

    for (let n = 0; n < opts.maxNewTokens; n++) {
      const logits = step.logits.data as Float32Array;
      const V = c.vocabSize;
      const draw = (b: number, u: number) =>
        sampleToken(logits.subarray(b * V, (b + 1) * V), opts.sampling, u);
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
        { ...feeds, ...head.feeds() },
        cache.feeds(),
        next,
        nextPos,
        mask,
        1,
        head.outputs,
      );
      cache.append(step, 1);
    }
    return rows.map((r) => r.out);
  }

  /**
   * Generation with the graph drawing (decodeLoop.ts): each run feeds every row's newest token (the prompt
   * at first) and returns k = min(chunk, tokens left) tokens per row. The host then takes them in order as
   * the per-token path would; a row that ends (stop token or string, length) ignores the rest, and a row
   * whose turn ends with inserted tool output drops the rest and masks their cache columns, so its next
   * run continues exactly after the turn, the inserted tokens forced into the loop.
   */
  private async generateInGraph(
    exec: Executable,
    feeds: Feeds,
    requests: GenerationRequest[],
    opts: GenerateOptions,
  ): Promise<Generation[]> {
    const B = requests.length;
    const pad = opts.padTokenId ?? 0;
    const T = opts.sampling.temperature;
    const prefill = prefillBatch(requests, pad);
    const rows = prefill.rows;
    let { ids, pos, mask, promptLen: width } = prefill;
    const cache = new KvBuffers(this.config, B, width + opts.maxNewTokens);
    const singleDraw: readonly string[] = ['logits', ...SAMPLING_HEAD_OUTPUTS];
    const outputs = exec.outputNames.filter((n) => !singleDraw.includes(n));
    for (;;) {
      const active = rows.filter((r) => !r.done);
      const left = Math.max(...active.map((r) => opts.maxNewTokens - r.out.tokens.length));
      const k = Math.min(this.chunk, left);
      cache.reserve(width + k - 1);
      const step = await this.run(
        exec,
        { ...feeds, ...chunkFeeds(rows, k, T, opts) },
        cache.feeds(),
        ids,
        pos,
        mask,
        width,
        outputs,
      );
      cache.append(step, width + k - 1);
      const tokens = step[decodeLoopNames.tokens].data as BigInt64Array;
      const logprobs = step[decodeLoopNames.logprobs].data as Float32Array;
      // Per row, how many of the loop's k − 1 cache columns hold tokens the row keeps.
      const kept = new Array<number>(B).fill(0);
      for (const [b, row] of rows.entries()) {
        if (row.done) continue;
        let taken = 0;
        let turned = false;
        for (let j = 0; j < k && !row.done && !turned; j++) {
          const logprob = logprobs[j * B + b];
          const drawn: SampledToken = {
            token: Number(tokens[j * B + b]),
            logprob,
            samplingLogprob: T === 0 ? 0 : logprob,
          };
          if (opts.sampling.rawLogprob) drawn.rawLogprob = logprob; // headSupports(): T is 0 or 1
          turned = (await this.advance(row, () => drawn, opts)) && j < k - 1;
          taken++;
        }
        // A turn's last token is fed again in the next run, after which the inserted tokens follow.
        kept[b] = row.done ? 0 : turned ? taken - 1 : k - 1;
        row.position += kept[b];
      }
      if (rows.every((r) => r.done)) break;
      mask = appendMaskColumns(mask, k - 1, kept);
      mask = growMask(
        mask,
        rows.map((r) => !r.done),
      );
      ids = new BigInt64Array(B);
      pos = new BigInt64Array(B);
      for (const [b, row] of rows.entries()) {
        ids[b] = BigInt(row.done ? pad : row.out.tokens[row.out.tokens.length - 1]);
        if (!row.done) pos[b] = BigInt(row.position++);
      }
      width = 1;
    }
    return rows.map((r) => r.out);
  }

  /**
   * Appends one token to a row (forced or drawn by `draw` from the row's uniform) and decides whether the
   * row is finished. Returns whether the token ended a turn with inserted tokens (emitted next).
   */
  private async advance(
    row: Row,
    draw: (u: number) => SampledToken,
    opts: GenerateOptions,
  ): Promise<boolean> {
    const out = row.out;
    let turned = false;
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
        return false;
      }
      const stop = matchStopString(out.tokens, opts);
      if (stop !== undefined) {
        const inserted = await opts.onTurnEnd?.({ request: row.request, tokens: out.tokens, stop });
        if (inserted !== undefined) {
          row.forced.push(...inserted);
          turned = inserted.length > 0;
        } else {
          out.finishReason = 'stop';
          row.done = true;
          return false;
        }
      }
    }
    if (out.tokens.length >= opts.maxNewTokens) row.done = true;
    return turned;
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

/**
 * The row's uniform for its next token (or the one `ahead` after it): coordinates (seed, step, prompt,
 * sample, position).
 */
function rowUniform(row: Row, opts: GenerateOptions, ahead = 0): number {
  const r = row.request;
  return uniformAt(opts.seed, opts.step ?? 0, r.prompt, r.sample, row.out.tokens.length + ahead);
}

/** Left-padded prompt batch for the prefill run. Pad positions get position 1, as HF's generate does. */
function prefillBatch(
  requests: GenerationRequest[],
  pad: number,
): {
  rows: Row[];
  ids: BigInt64Array;
  pos: BigInt64Array;
  mask: HostTensor;
  promptLen: number;
} {
  const B = requests.length;
  const promptLen = Math.max(...requests.map((r) => r.promptIds.length));
  if (promptLen === 0) throw new Error('every prompt is empty');
  const rows: Row[] = requests.map((request) => ({
    request,
    out: { tokens: [], logprobs: [], sampled: [], finishReason: 'length' },
    done: false,
    forced: [],
    position: request.promptIds.length,
  }));
  const ids = new BigInt64Array(B * promptLen);
  const pos = new BigInt64Array(B * promptLen);
  const mask = new BigInt64Array(B * promptLen);
  requests.forEach((r, b) => {
    const offset = promptLen - r.promptIds.length;
    for (let t = 0; t < promptLen; t++) {
      const real = t >= offset;
      ids[b * promptLen + t] = BigInt(real ? r.promptIds[t - offset] : pad);
      pos[b * promptLen + t] = BigInt(real ? t - offset : 1);
      mask[b * promptLen + t] = real ? 1n : 0n;
    }
  });
  return { rows, ids, pos, mask: { data: mask, dims: [B, promptLen] }, promptLen };
}

/**
 * The in-graph draw's inputs for a run producing k tokens per row: each draw's uniform at the row's token
 * index, 1/T, greedy rows, and the inserted tokens due (forced instead of drawn).
 */
function chunkFeeds(rows: readonly Row[], k: number, T: number, opts: GenerateOptions): Feeds {
  const B = rows.length;
  const first = new Float32Array(B);
  const later = new Float32Array(B * (k - 1));
  const forcedToken = new BigInt64Array(B * k);
  const forced = new Uint8Array(B * k);
  rows.forEach((row, b) => {
    if (row.done) return;
    first[b] = rowUniform(row, opts);
    for (let j = 1; j < k; j++) later[b * (k - 1) + j - 1] = rowUniform(row, opts, j);
    row.forced.slice(0, k).forEach((t, j) => {
      forcedToken[b * k + j] = BigInt(t);
      forced[b * k + j] = 1;
    });
  });
  return {
    [samplingHeadNames.uniform]: { data: first, dims: [B] },
    [samplingHeadNames.inverseTemperature]: { data: new Float32Array(B).fill(T > 0 ? 1 / T : 1), dims: [B] },
    [decodeLoopNames.uniforms]: { data: later, dims: [B, k - 1] },
    [decodeLoopNames.greedy]: { data: new Uint8Array(B).fill(T === 0 ? 1 : 0), dims: [B] },
    [decodeLoopNames.forcedToken]: { data: forcedToken, dims: [B, k] },
    [decodeLoopNames.forced]: { data: forced, dims: [B, k] },
  };
}

/**
 * A graph with the sampling head, used where the host draws (top-k / top-p, which the head cannot):
 * the head's inputs are fed placeholders, the loop runs zero times, and the logits come back.
 */
class HeadPlaceholders {
  readonly outputs: readonly string[];

  constructor(
    private readonly hasHead: boolean,
    private readonly batch: number,
    outputNames: readonly string[],
  ) {
    const headOnly: readonly string[] = [
      ...SAMPLING_HEAD_OUTPUTS,
      decodeLoopNames.tokens,
      decodeLoopNames.logprobs,
    ];
    this.outputs = outputNames.filter((n) => !headOnly.includes(n));
  }

  feeds(): Feeds {
    if (!this.hasHead) return {};
    const B = this.batch;
    return {
      [samplingHeadNames.uniform]: { data: new Float32Array(B), dims: [B] },
      [samplingHeadNames.inverseTemperature]: { data: new Float32Array(B).fill(1), dims: [B] },
      [decodeLoopNames.uniforms]: { data: new Float32Array(0), dims: [B, 0] },
      [decodeLoopNames.greedy]: { data: new Uint8Array(B), dims: [B] },
      [decodeLoopNames.forcedToken]: { data: new BigInt64Array(B), dims: [B, 1] },
      [decodeLoopNames.forced]: { data: new Uint8Array(B), dims: [B, 1] },
    };
  }
}

/**
 * The KV cache on the host: per layer and K/V a [batch, kvHeads, capacity, headDim] buffer, fed whole to
 * every run (inputs cross into onnxruntime without a copy) and extended with each run's new positions.
 */
export class KvBuffers {
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private length = 0;

  constructor(
    private readonly c: Qwen2Config,
    private readonly batch: number,
    private capacity: number,
  ) {
    const size = batch * c.numKeyValueHeads * capacity * c.headDim;
    for (let i = 0; i < c.numHiddenLayers; i++) {
      this.keys.push(new Float32Array(size));
      this.values.push(new Float32Array(size));
    }
  }

  /**
   * Makes room for `added` more positions. Only a turn that drops drawn tokens (generateInGraph) uses
   * positions beyond prompt + response, so the buffers grow (copied) only then.
   */
  reserve(added: number): void {
    if (this.length + added <= this.capacity) return;
    const capacity = Math.max(this.length + added, Math.ceil(this.capacity * 1.25));
    const D = this.c.headDim;
    const rows = this.batch * this.c.numKeyValueHeads;
    const grow = (old: Float32Array) => {
      const next = new Float32Array(rows * capacity * D);
      for (let r = 0; r < rows; r++)
        next.set(
          old.subarray(r * this.capacity * D, (r * this.capacity + this.length) * D),
          r * capacity * D,
        );
      return next;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = capacity;
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

/** `count` more mask columns: row b's first kept[b] of them 1 (positions it keeps), the rest 0. */
export function appendMaskColumns(mask: HostTensor, count: number, kept: readonly number[]): HostTensor {
  if (count === 0) return mask;
  const [B, L] = mask.dims;
  const data = new BigInt64Array(B * (L + count));
  const old = mask.data as BigInt64Array;
  for (let b = 0; b < B; b++) {
    data.set(old.subarray(b * L, (b + 1) * L), b * (L + count));
    data.fill(1n, b * (L + count) + L, b * (L + count) + L + Math.min(kept[b], count));
  }
  return { data, dims: [B, L + count] };
}

/** HF-named weights as graph feeds, each checked to exist; "float16" converts the matrices. */
export function weightFeeds(
  config: Qwen2Config,
  weights: Map<string, Float32Array>,
  weightDtype: WeightDtype = 'float32',
): Feeds {
  const feeds: Feeds = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights: missing tensor ${p.name}`);
    const half = weightDtype === 'float16' && isMatrixWeight(p.shape);
    feeds[p.name] = { data: half ? toFloat16(data) : data, dims: p.shape };
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
