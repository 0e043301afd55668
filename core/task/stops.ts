/** Where a math task's generation ends: the EOS tokens of the tokenizer and of the model. */
import type { QwenTokenizer } from '../model/tokenizer.ts';

/** Stop on the tokenizer's EOS and on every EOS id of the model's generation config. */
export function mathStopTokenIds(tokenizer: QwenTokenizer, modelEos: readonly number[]): number[] {
  // The tokenizer's EOS first: it ends a chat turn (<|im_end|> for Qwen chat models), so SFT targets end with it.
  const ids = new Set(tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId]);
  for (const id of modelEos) ids.add(id);
  if (ids.size === 0)
    throw new Error('math task: neither the tokenizer nor the model config names an EOS token');
  return [...ids];
}
