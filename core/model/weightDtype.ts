/**
 * The precision of a model's matrix weights (projections, embedding, LM head) in generation: "float16"
 * halves the bytes a decode step reads; norms, biases and every activation stay float32. No onnxruntime
 * import, so configs can name it.
 */
export const WEIGHT_DTYPES = ['float32', 'float16'] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];
