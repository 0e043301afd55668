/**
 * The Hugging Face Qwen2 `config.json`: parse + validate into a typed `Qwen2Config`, and write it back in
 * the form transformers' `Qwen2Config.save_pretrained` produces, so our directories load in transformers.
 *
 * HF uses model_type "qwen2" for Qwen2, Qwen2.5 and DeepSeek-R1-Distill-Qwen alike (there is no "qwen2_5"
 * text model type; "qwen2_5_vl" is the vision-language model, which this decoder does not implement).
 */

export const QWEN2_MODEL_TYPE = 'qwen2';
/** Defaults of transformers' `Qwen2Config.__init__` for keys that real checkpoints sometimes omit. */
export const HF_QWEN2_DEFAULTS = {
  /** `initializer_range=0.02` (std of the normal init of Linear and Embedding weights). */
  initializerRange: 0.02,
  /** `hidden_act="silu"`: the SwiGLU MLP's activation. */
  hiddenAct: 'silu',
  /** `tie_word_embeddings=False`. */
  tieWordEmbeddings: false,
  /** `attention_dropout=0.0`. */
  attentionDropout: 0,
} as const;

export interface Qwen2Config {
  modelType: typeof QWEN2_MODEL_TYPE;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Grouped-query attention: kv heads shared by numAttentionHeads / numKeyValueHeads query heads each. */
  numKeyValueHeads: number;
  /** hidden_size / num_attention_heads unless config.json names `head_dim` (as modeling_qwen2 reads it). */
  headDim: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  initializerRange: number;
  hiddenAct: 'silu';
  bosTokenId: number | null;
  /** HF allows a single id or a list (generation stops on any of them). */
  eosTokenId: number[];
}

/** The keys an architecture cannot be inferred without; each missing one is an error naming it. */
const REQUIRED_KEYS = [
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'max_position_embeddings',
  'rms_norm_eps',
] as const;

type Json = Record<string, unknown>;

/** Parses the text of a config.json; `file` names it in every error. */
export function parseQwen2ConfigJson(text: string, file = 'config.json'): Qwen2Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseQwen2Config(raw, file);
}

/** Validates a parsed config.json object. */
export function parseQwen2Config(raw: unknown, file = 'config.json'): Qwen2Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: expected a JSON object`);
  }
  const json = raw as Json;
  if (json.model_type === undefined) throw new Error(`${file}: missing key "model_type"`);
  if (json.model_type !== QWEN2_MODEL_TYPE) {
    throw new Error(
      `${file}: unsupported model_type ${JSON.stringify(json.model_type)} (only "${QWEN2_MODEL_TYPE}" is implemented)`,
    );
  }
  for (const key of REQUIRED_KEYS) {
    if (json[key] === undefined || json[key] === null) throw new Error(`${file}: missing key "${key}"`);
  }
  const int = (key: string, value: unknown = json[key]): number => positiveInteger(value, key, file);

  const numAttentionHeads = int('num_attention_heads');
  const hiddenSize = int('hidden_size');
  const numKeyValueHeads =
    json.num_key_value_heads === undefined || json.num_key_value_heads === null
      ? numAttentionHeads
      : int('num_key_value_heads');
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new Error(
      `${file}: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  let headDim: number;
  if (json.head_dim !== undefined && json.head_dim !== null) {
    headDim = int('head_dim');
  } else {
    if (hiddenSize % numAttentionHeads !== 0) {
      throw new Error(
        `${file}: hidden_size (${hiddenSize}) must be divisible by num_attention_heads (${numAttentionHeads})`,
      );
    }
    headDim = hiddenSize / numAttentionHeads;
  }
  if (headDim % 2 !== 0)
    throw new Error(`${file}: head_dim must be even for rotary embeddings (got ${headDim})`);

  const hiddenAct = json.hidden_act ?? HF_QWEN2_DEFAULTS.hiddenAct;
  if (hiddenAct !== 'silu') {
    throw new Error(`${file}: hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "silu")`);
  }
  if (json.use_sliding_window === true) {
    throw new Error(`${file}: use_sliding_window=true is not supported (full attention only)`);
  }
  // transformers 5.x lists each layer's attention kind; only "full_attention" is implemented.
  if (Array.isArray(json.layer_types)) {
    const other = json.layer_types.findIndex((t) => t !== 'full_attention');
    if (other >= 0) {
      throw new Error(
        `${file}: layer_types[${other}] is ${JSON.stringify(json.layer_types[other])} (only "full_attention" is supported)`,
      );
    }
  }
  const tie = json.tie_word_embeddings ?? HF_QWEN2_DEFAULTS.tieWordEmbeddings;
  if (typeof tie !== 'boolean')
    throw new Error(`${file}: tie_word_embeddings must be true or false (got ${tie})`);

  return {
    modelType: QWEN2_MODEL_TYPE,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numHiddenLayers: int('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: int('max_position_embeddings'),
    ropeTheta: readRopeTheta(json, file),
    rmsNormEps: positiveNumber(json.rms_norm_eps, 'rms_norm_eps', file),
    tieWordEmbeddings: tie,
    initializerRange:
      json.initializer_range === undefined
        ? HF_QWEN2_DEFAULTS.initializerRange
        : positiveNumber(json.initializer_range, 'initializer_range', file),
    hiddenAct: 'silu',
    bosTokenId:
      json.bos_token_id === undefined || json.bos_token_id === null
        ? null
        : tokenId(json.bos_token_id, 'bos_token_id', file),
    eosTokenId: readEosTokenIds(json.eos_token_id, file),
  };
}

/**
 * transformers 4.x writes `rope_theta` (+ `rope_scaling`) at the top level; 5.x writes `rope_parameters`
 * ({rope_theta, rope_type}). Only the default (unscaled) rotary embedding is implemented.
 */
function readRopeTheta(json: Json, file: string): number {
  const params = json.rope_parameters as Json | undefined | null;
  if (params !== undefined && params !== null) {
    const type = params.rope_type ?? 'default';
    if (type !== 'default') {
      throw new Error(
        `${file}: rope_parameters.rope_type ${JSON.stringify(type)} is not supported (only "default")`,
      );
    }
    if (params.rope_theta !== undefined)
      return positiveNumber(params.rope_theta, 'rope_parameters.rope_theta', file);
  }
  const scaling = json.rope_scaling as Json | undefined | null;
  if (scaling !== undefined && scaling !== null) {
    const type = scaling.rope_type ?? scaling.type ?? 'default';
    if (type !== 'default') {
      throw new Error(
        `${file}: rope_scaling ${JSON.stringify(type)} is not supported (only unscaled rotary embeddings)`,
      );
    }
  }
  if (json.rope_theta === undefined || json.rope_theta === null)
    throw new Error(`${file}: missing key "rope_theta"`);
  return positiveNumber(json.rope_theta, 'rope_theta', file);
}

function readEosTokenIds(value: unknown, file: string): number[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((v, i) => tokenId(v, `eos_token_id[${i}]`, file));
  return [tokenId(value, 'eos_token_id', file)];
}

function positiveInteger(value: unknown, key: string, file: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${file}: ${key} must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}

function positiveNumber(value: unknown, key: string, file: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${file}: ${key} must be a positive number (got ${JSON.stringify(value)})`);
  }
  return value;
}

function tokenId(value: unknown, key: string, file: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${file}: ${key} must be a non-negative integer token id (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** Arguments for a new config (tests and tiny models); everything not given takes the HF default. */
export type Qwen2ConfigInit = Pick<
  Qwen2Config,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numHiddenLayers' | 'numAttentionHeads'
> &
  Partial<Omit<Qwen2Config, 'modelType' | 'hiddenAct'>>;

/** HF `Qwen2Config` defaults for the optional architecture keys (transformers' configuration_qwen2.py). */
const HF_QWEN2_INIT_DEFAULTS = {
  maxPositionEmbeddings: 32768,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
};

/** Builds a validated config (validation is the parser's, so both paths agree). */
export function makeQwen2Config(init: Qwen2ConfigInit): Qwen2Config {
  const full: Qwen2Config = {
    modelType: QWEN2_MODEL_TYPE,
    numKeyValueHeads: init.numAttentionHeads,
    headDim: init.hiddenSize / init.numAttentionHeads,
    maxPositionEmbeddings: HF_QWEN2_INIT_DEFAULTS.maxPositionEmbeddings,
    ropeTheta: HF_QWEN2_INIT_DEFAULTS.ropeTheta,
    rmsNormEps: HF_QWEN2_INIT_DEFAULTS.rmsNormEps,
    tieWordEmbeddings: HF_QWEN2_DEFAULTS.tieWordEmbeddings,
    initializerRange: HF_QWEN2_DEFAULTS.initializerRange,
    hiddenAct: 'silu',
    bosTokenId: null,
    eosTokenId: [],
    ...init,
  };
  const json = qwen2ConfigToJson(full);
  // Without an explicit head_dim the parser derives it (and rejects a hidden size the heads do not divide).
  if (init.headDim === undefined) delete json.head_dim;
  return parseQwen2Config(json, 'Qwen2Config');
}

/**
 * The config.json object transformers writes for a Qwen2ForCausalLM (the keys of `Qwen2Config.to_dict()`).
 * The rotary base is written both ways — `rope_parameters` (read by transformers 5.x) and top-level
 * `rope_theta` (4.x) — and the dtype as `dtype` (5.x) and `torch_dtype` (4.x), so either version loads it.
 */
export function qwen2ConfigToJson(config: Qwen2Config): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: HF_QWEN2_DEFAULTS.attentionDropout,
    bos_token_id: config.bosTokenId,
    eos_token_id:
      config.eosTokenId.length === 1
        ? config.eosTokenId[0]
        : config.eosTokenId.length
          ? config.eosTokenId
          : null,
    dtype: 'float32',
    hidden_act: config.hiddenAct,
    hidden_size: config.hiddenSize,
    initializer_range: config.initializerRange,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    layer_types: new Array(config.numHiddenLayers).fill('full_attention'),
    max_window_layers: config.numHiddenLayers,
    model_type: QWEN2_MODEL_TYPE,
    num_attention_heads: config.numAttentionHeads,
    num_hidden_layers: config.numHiddenLayers,
    num_key_value_heads: config.numKeyValueHeads,
    rms_norm_eps: config.rmsNormEps,
    rope_parameters: { rope_theta: config.ropeTheta, rope_type: 'default' },
    rope_scaling: null,
    rope_theta: config.ropeTheta,
    sliding_window: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: 'float32',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: config.vocabSize,
  };
  if (config.headDim !== config.hiddenSize / config.numAttentionHeads) json.head_dim = config.headDim;
  return json;
}

/** config.json text as `save_pretrained` formats it: 2-space indent, sorted keys, trailing newline. */
export function qwen2ConfigToJsonText(config: Qwen2Config): string {
  const json = qwen2ConfigToJson(config);
  const sorted = Object.fromEntries(
    Object.keys(json)
      .sort()
      .map((k) => [k, json[k]]),
  );
  return JSON.stringify(sorted, null, 2) + '\n';
}
