"""Loads a `reasonloop export` PEFT adapter directory with peft on its base model and compares it with the
merged export (`reasonloop export --merge-lora`): logits of the prompt from the adapted model (PEFT's unmerged
LoraLayer), from PEFT's own merge_and_unload, and from the merged directory loaded by transformers, and the
adapted model's greedy tokens. All in float32.

Usage: python scripts/python/check_peft_adapter.py --base DIR --adapter DIR --merged DIR --prompt-ids 1,2,3
         [--max-new-tokens 8]
Prints {"peftVsMerged": max |Δlogit|, "peftMergeVsMerged": max |Δlogit|, "tokens": [...], "peft": version}.
Needs: pip install torch transformers safetensors peft   (never a runtime dependency of reasonloop)
"""

import argparse
import json

import peft
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def load(path: str) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--merged", required=True)
    parser.add_argument("--prompt-ids", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    args = parser.parse_args()
    prompt = torch.tensor([[int(t) for t in args.prompt_ids.split(",")]])
    adapted = PeftModel.from_pretrained(load(args.base), args.adapter).eval()
    merged = load(args.merged)
    with torch.no_grad():
        ours = merged(prompt).logits
        theirs = adapted(prompt).logits
        out = adapted.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=args.max_new_tokens,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
        peft_merged = adapted.merge_and_unload()(prompt).logits
    print(
        json.dumps(
            {
                "peftVsMerged": (theirs - ours).abs().max().item(),
                "peftMergeVsMerged": (peft_merged - ours).abs().max().item(),
                "tokens": out[0, prompt.shape[1] :].tolist(),
                "peft": peft.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
