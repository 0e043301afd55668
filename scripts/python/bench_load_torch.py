"""PyTorch side of `npm run bench:load` (bench/load.ts): from_pretrained + greedy generate, nothing else.

The process's peak RSS (measured from outside with /usr/bin/time) is the reference for loading and sampling
memory: one load of the model directory and `--max-new-tokens` greedy tokens after the prompt, on the CPU in
float32, as `reasonloop generate --temperature 0` does. Prints one JSON line {"tokens": [...]}.

Usage: python bench_load_torch.py --model DIR --prompt-ids 1,2,3 --max-new-tokens 16
Needs: pip install torch transformers safetensors   (a benchmark reference, never a reasonloop dependency)
"""

import argparse
import json

import torch
from transformers import AutoModelForCausalLM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt-ids", required=True)
    parser.add_argument("--max-new-tokens", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ids = torch.tensor([[int(t) for t in args.prompt_ids.split(",")]], dtype=torch.long)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=args.max_new_tokens,
            min_new_tokens=args.max_new_tokens,
            pad_token_id=0,
        )
    print(json.dumps({"tokens": out[0, ids.shape[1] :].tolist()}))


if __name__ == "__main__":
    main()
