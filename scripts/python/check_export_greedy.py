"""Loads a `reasonloop export` directory with transformers and prints its greedy tokens as JSON.

The export check of docs/model.md: the tokens must equal `reasonloop generate --temperature 0` on the
checkpoint the export came from. transformers loads the directory as any Qwen2 checkpoint
(AutoModelForCausalLM.from_pretrained: config.json, the index and its shards); the weights are upcast to
float32 for the forward pass so a bfloat16/float16 export is compared on the values it stores.

Usage: python scripts/python/check_export_greedy.py DIR --prompt-ids 1,2,3 --max-new-tokens 16
Prints {"tokens": [...], "logprobs": [...] (of each greedy token), "torch_dtype": ..., "stored_dtypes": [...], "transformers": version}.
Needs: pip install torch transformers safetensors   (never a runtime dependency of reasonloop)
"""

import argparse
import json

import torch
import transformers
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--prompt-ids", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    index = json.load(open(f"{args.dir}/model.safetensors.index.json"))
    stored = set()
    for shard in set(index["weight_map"].values()):
        with safe_open(f"{args.dir}/{shard}", framework="pt") as f:
            stored.update(str(f.get_slice(k).get_dtype()) for k in f.keys())
    config = AutoConfig.from_pretrained(args.dir)
    model = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32).eval()
    prompt = torch.tensor([[int(t) for t in args.prompt_ids.split(",")]])
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=args.max_new_tokens,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            output_scores=True,
            return_dict_in_generate=True,
        )
    tokens = out.sequences[0, prompt.shape[1] :]
    logprobs = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, tokens)]
    print(
        json.dumps(
            {
                "tokens": tokens.tolist(),
                "logprobs": logprobs,
                "torch_dtype": str(getattr(config, "dtype", None) or config.torch_dtype),
                "stored_dtypes": sorted(stored),
                "transformers": transformers.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
