"""PyTorch side of `npm run bench:rollout` (bench/rollout.ts): eager Hugging Face `generate` on CPU or CUDA.

Loads the bench model directory once with AutoModelForCausalLM.from_pretrained, prints one JSON line
{"ready": true, ...}, then serves one timed generation per line read from stdin, so the Node bench can
interleave PyTorch runs with its own and the ratios come from the same minutes of a shared machine:

  stdin:  {"threads": 2, "seed": 0}
  stdout: {"threads": 2, "seconds": 3.91, "newTokens": 128, "batch": 32}
  stdin:  {"threads": 1, "greedyFirstTokens": true}
  stdout: {"tokens": [...]}        (argmax after each prompt: checks all sides read the same weights)

Sampling as DESIGN.md section 5 defines the rollout: do_sample, temperature 1.0, top_k 0 (HF defaults to
50), top_p 1.0, exactly max_new_tokens new tokens (min_new_tokens equal, and the model has no eos).

With --device cuda[:N] the model and prompts live on that GPU, timings synchronize the device, and a
request {"bandwidth": true} answers {"bytesPerSec": ...}: a device-to-device copy's bytes read + written
per second, the memory-bandwidth ceiling the Node bench divides the weight traffic by.

Usage: python bench_rollout_torch.py --model DIR --prompts DIR/prompts.json --max-new-tokens 128 [--device cuda]
Needs: pip install torch transformers safetensors   (a benchmark reference, never a reasonloop dependency)
"""

import argparse
import json
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--max-new-tokens", type=int, required=True)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--device", default="cpu")
    # float16: the whole model at half precision (HF's torch_dtype=float16), as our --weight-dtype float16
    # halves the matrices' bytes; on the GPU both multiply at half precision with float32 accumulation.
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    args = parser.parse_args()
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    if on_gpu:
        # float32 as on our side: no TF32 in matrix products or convolutions.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def sync() -> None:
        if on_gpu:
            torch.cuda.synchronize(device)

    with open(args.prompts) as f:
        prompts = json.load(f)
    input_ids = torch.tensor(prompts, dtype=torch.long, device=device)
    attention_mask = torch.ones_like(input_ids)
    dtype = torch.float16 if args.dtype == "float16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device)
    model.eval()
    print(
        json.dumps(
            {
                "ready": True,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "attention": model.config._attn_implementation,
                "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
            }
        ),
        flush=True,
    )

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("bandwidth"):
            print(json.dumps({"bytesPerSec": copy_bandwidth(device)}), flush=True)
            continue
        threads = int(request["threads"])
        torch.set_num_threads(threads)
        if request.get("greedyFirstTokens"):
            # The same-weights check: argmax of the last prompt position's logits, per row.
            with torch.inference_mode():
                logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
            tokens = logits[:, -1, :].argmax(dim=-1).tolist()
            print(json.dumps({"tokens": tokens}), flush=True)
            continue
        torch.manual_seed(int(request.get("seed", 0)))
        sync()
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                do_sample=True,
                temperature=args.temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=args.max_new_tokens,
                min_new_tokens=args.max_new_tokens,
                pad_token_id=0,
            )
        sync()
        seconds = time.perf_counter() - start
        new_tokens = out.shape[1] - input_ids.shape[1]
        print(
            json.dumps(
                {
                    "threads": torch.get_num_threads(),
                    "seconds": seconds,
                    "newTokens": int(new_tokens),
                    "batch": int(out.shape[0]),
                }
            ),
            flush=True,
        )


def copy_bandwidth(device: torch.device) -> float:
    """Median over 20 copies of a 1 GiB float32 tensor on the device: (bytes read + bytes written) / s."""
    if device.type != "cuda":
        return 0.0
    src = torch.rand(1 << 28, device=device)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(20):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize(device)
        times.append(start.elapsed_time(end) / 1000)
    times.sort()
    return 2 * src.numel() * 4 / times[len(times) // 2]


if __name__ == "__main__":
    main()
