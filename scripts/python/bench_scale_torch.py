"""PyTorch reference for `npm run bench:scale`: one PPO-clip update step of a real-shape HF Qwen2 model on CPU.

Reads the batch written by bench/scale/updateStep.ts (JSON: input_ids, attention_mask, loss_mask,
old_logprobs, advantages, micro_batch, lora_rank, lora_alpha, hyper-parameters) and runs what reasonloop's
trainer runs: token-mean PPO-clip at temperature 1 over the whole batch, gradients accumulated over
micro-batches, clip_grad_norm_, an AdamW step; twice, the peak RSS over both (the first step's loss and seconds). Full-parameter, or with lora_rank > 0 PEFT LoRA adapters on
every linear layer but lm_head (the base frozen). With "checkpointing", transformers' gradient checkpointing
(non-reentrant). Prints one JSON line: {"seconds":…,"loss":…,"gradNorm":…,"peakRssGB":…,…}.

usage: python bench_scale_torch.py MODEL_DIR BATCH_JSON THREADS plain|checkpointing
"""
import json
import resource
import sys
import time

import torch
from transformers import Qwen2ForCausalLM

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> None:
    model_dir, batch_path, threads, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batch = json.load(open(batch_path))
    t0 = time.perf_counter()
    model = Qwen2ForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    if batch["lora_rank"] > 0:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=batch["lora_rank"],
                lora_alpha=batch["lora_alpha"],
                lora_dropout=0.0,
                target_modules=LORA_TARGETS,
            ),
        )
    if mode == "checkpointing":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    load_seconds = time.perf_counter() - t0
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    attention = torch.tensor(batch["attention_mask"], dtype=torch.long)
    mask = torch.tensor(batch["loss_mask"], dtype=torch.float32)
    old = torch.tensor(batch["old_logprobs"], dtype=torch.float32)
    adv = torch.tensor(batch["advantages"], dtype=torch.float32)
    clip_low, clip_high = batch["clip_low"], batch["clip_high"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=batch["lr"], weight_decay=batch["weight_decay"])
    micro = batch["micro_batch"]
    tokens = mask.sum()
    # Two optimizer steps: from the second on, AdamW's moments are resident during the backward, as they are
    # in every step of a run (and in reasonloop's trainer, which reads them from the checkpoint): the peak of
    # a fresh optimizer's first step alone would flatter PyTorch by 8 bytes per trained parameter.
    step_seconds = []
    step_usage = []
    losses = []
    norms = []
    for _ in range(2):
        u1 = resource.getrusage(resource.RUSAGE_SELF)
        t1 = time.perf_counter()
        total = 0.0
        for start in range(0, ids.shape[0], micro):
            s = slice(start, start + micro)
            logits = model(input_ids=ids[s], attention_mask=attention[s]).logits[:, :-1, :]
            logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[s, 1:].unsqueeze(-1)).squeeze(-1)
            del logits
            ratio = torch.exp(torch.clamp(logp - old[s], -20.0, 20.0))
            pg = torch.maximum(-adv[s] * ratio, -adv[s] * torch.clamp(ratio, 1 - clip_low, 1 + clip_high))
            loss = (pg * mask[s]).sum() / tokens
            loss.backward()
            total += loss.item()
        norms.append(torch.nn.utils.clip_grad_norm_(trainable, batch["max_grad_norm"]).item())
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - t1)
        u2 = resource.getrusage(resource.RUSAGE_SELF)
        # Kernel time and page faults of the step: fresh pages zeroed by the kernel show here, not in `user`.
        step_usage.append((u2.ru_stime - u1.ru_stime, u2.ru_minflt - u1.ru_minflt))
        losses.append(total)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(
        json.dumps(
            {
                "mode": mode,
                "threads": threads,
                "loadSeconds": round(load_seconds, 1),
                "seconds": round(step_seconds[0], 1),
                "secondStepSeconds": round(step_seconds[1], 1),
                "sysSeconds": round(step_usage[0][0], 1),
                "minorFaults": step_usage[0][1],
                "loss": losses[0],
                "gradNorm": norms[0],
                "peakRssGB": round(peak, 2),
                "trainable": sum(p.numel() for p in trainable),
            }
        )
    )


if __name__ == "__main__":
    main()
