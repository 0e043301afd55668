"""PyTorch reference for `npm run bench:update`: one PPO-clip step of an HF Qwen2 model on CPU.

Reads the batch written by bench/update.ts (JSON: input_ids, attention_mask, loss_mask, old_logprobs,
advantages, hyper-parameters), runs forward + backward + clip_grad_norm_ + AdamW with the same loss as
reasonloop's train-step graph (token-mean PPO-clip at temperature 1), and prints one JSON line:
{"threads":…,"stepMs":[…],"loss":…,"gradNorm":…,"peakRssMb":…}.

usage: python bench_update_torch.py MODEL_DIR BATCH_JSON THREADS STEPS
"""
import json
import resource
import sys
import time

import torch
from transformers import Qwen2ForCausalLM


def main() -> None:
    model_dir, batch_path, threads, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batch = json.load(open(batch_path))
    model = Qwen2ForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.train()
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    attention = torch.tensor(batch["attention_mask"], dtype=torch.long)
    mask = torch.tensor(batch["loss_mask"], dtype=torch.float32)
    old = torch.tensor(batch["old_logprobs"], dtype=torch.float32)
    adv = torch.tensor(batch["advantages"], dtype=torch.float32)
    clip_low, clip_high = batch["clip_low"], batch["clip_high"]
    opt = torch.optim.AdamW(model.parameters(), lr=batch["lr"], weight_decay=batch["weight_decay"])
    times, first_loss, first_norm = [], None, None
    for step in range(steps):
        t0 = time.perf_counter()
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1, :]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        ratio = torch.exp(torch.clamp(logp - old, -20.0, 20.0))
        pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip_low, 1 + clip_high))
        loss = (pg * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), batch["max_grad_norm"])
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
        if step == 0:
            first_loss, first_norm = loss.item(), norm.item()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"threads": threads, "stepMs": times, "loss": first_loss, "gradNorm": first_norm, "peakRssMb": peak}))


if __name__ == "__main__":
    main()
