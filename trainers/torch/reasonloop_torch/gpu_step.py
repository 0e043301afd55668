"""One update step of a Qwen2 model at a given shape, random weights, through the trainer's own FSDP2 path
(shard_model, policy_update.update: forward, backward, gradient reduce, clipping, AdamW), then the state
gathered back as a checkpoint would be: what a GPU machine shows for the torch trainer (docs/torch-trainer.md).

  torchrun --nproc-per-node N -m reasonloop_torch.gpu_step --shape qwen2.5-1.5b [--device cuda]
      [--mixed-precision bf16|none] [--rows 4] [--tokens 256] [--seed 0] [--state-sha256]

Prints one JSON line (rank 0): the shape, ranks, parameter count, seconds of the update step and of the
gather, peak GPU memory (the largest over the ranks, torch.cuda.max_memory_allocated) under CUDA, and the
step's metrics; with --state-sha256 also the sha256 of the gathered state, so that two runs of a seed compare
bit for bit. The rows are seeded random tokens and advantages, their old log-probs the float32 model's
own plus seeded noise: the same batch with or without mixed precision, so the runs' metrics compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import Qwen2Config

from .model import build_qwen2, token_logprobs
from .policy_update import UpdateContext, UpdateSettings, make_optimizer, on_device, update
from .rollout_batch import pack_rows
from .sharding import device_problem, init_ranks, leave_ranks, shard_model, use_device
from .state_files import join_state_writes, moment_entries, read_moment
from .trainer_state import LiveState

#: Qwen2.5-1.5B's config.json (the architecture only); "tiny" for tests on the CPU.
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-1.5b": dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                         num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True),
    "qwen2.5-0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True),
    "tiny": dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False),
}
#: The algorithm settings the step reads: PPO-clip, token-mean, one mini-batch of micro-batches of 2, AdamW.
ALGORITHM = {"clip": {"low": 0.2, "high": 0.2}, "kl": {"estimator": "k1", "placement": "reward"},
             "lossAgg": "token-mean", "entropyCoef": 0.0, "epochs": 1, "miniBatchSize": 1 << 30,
             "microBatchSize": 2, "shuffle": False,
             "optimizer": {"lr": 1e-6, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.01, "maxGradNorm": 1.0}}


def random_rows(vocab: int, rows: int, tokens: int, seed: int) -> list[dict[str, Any]]:
    """`rows` rows of `tokens` tokens (a quarter prompt), one advantage per row; old log-probs to fill."""
    rng = random.Random(seed)
    prompt = max(1, tokens // 4)
    out = []
    for _ in range(rows):
        ids = [rng.randrange(vocab) for _ in range(tokens)]
        n = tokens - prompt
        out.append({"promptIds": ids[:prompt], "responseIds": ids[prompt:], "sampled": [True] * n,
                    "advantages": [rng.gauss(0, 1)] * n, "oldLogprobs": [0.0] * n})
    return out


def with_old_logprobs(model: torch.nn.Module, rows: list[dict[str, Any]], seed: int) -> None:
    """Each row's old log-probs: the float32 model's own (before sharding and mixed precision, so runs
    with and without it train on the same batch), plus seeded noise of 0.3 so that some ratios clip."""
    rng = random.Random(seed + 1)
    device = next(model.parameters()).device
    with torch.no_grad():
        for row in rows:
            p = on_device(pack_rows([row], torch.float32, False), device)
            logp, _ = token_logprobs(model, p.input_ids, p.attention_mask, p.position_ids, 1.0)
            start = len(row["promptIds"]) - 1
            own = logp[0, start:start + len(row["responseIds"])].cpu().tolist()
            row["oldLogprobs"] = [x + 0.3 * rng.gauss(0, 1) for x in own]


def peak_gpu_gib(device: str) -> float | None:
    """The largest peak of allocated GPU memory over the ranks, GiB (None on the CPU)."""
    if device != "cuda":
        return None
    peak = torch.tensor([float(torch.cuda.max_memory_allocated())], device="cuda")
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    return peak.item() / 2**30


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def state_sha256(state: LiveState) -> str:
    """sha256 of the gathered state's float32 bytes, weights then moments, each tensor gathered in turn (a
    collective on every rank): two runs of one seed compare bit for bit without writing a checkpoint."""
    h = hashlib.sha256()
    for name, _ in state.entries():
        h.update(state.tensor("param", name).numpy().tobytes())
    for key, _ in moment_entries(state):
        h.update(read_moment(state, key).numpy().tobytes())
    return h.hexdigest()


def run(shape: str, device: str, mixed_precision: str | None, rows: int, tokens: int, seed: int,
        with_sha256: bool = False) -> dict[str, Any]:
    rank, world = init_ranks(device)
    torch.manual_seed(seed)  # the same random weights on every rank, each keeping its own shards
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.json"
        Qwen2Config(**SHAPES[shape]).to_json_file(str(config_path))
        model = build_qwen2(config_path, torch.float32)
    params = sum(p.numel() for p in model.parameters())
    model.to(torch.device("cuda", torch.cuda.current_device()) if device == "cuda" else "cpu")
    batch = random_rows(model.config.vocab_size, rows, tokens, seed)
    with_old_logprobs(model, batch, seed)
    model = shard_model(model, device, mixed_precision)
    optimizer = make_optimizer(model, ALGORITHM["optimizer"])
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    started = time.perf_counter()
    records = update(model, optimizer, batch, UpdateSettings.from_algorithm(ALGORITHM),
                     UpdateContext(seed=seed, step=0, temperature=1.0, lr=ALGORITHM["optimizer"]["lr"], kl_coef=0.0),
                     torch.float32)
    synchronize(device)
    step_s = time.perf_counter() - started
    peak = peak_gpu_gib(device)
    # The checkpoint's gather (every tensor, weights and moments, to the CPU as float32), without the files.
    started = time.perf_counter()
    state = LiveState(model, optimizer)
    digest = None
    if with_sha256:
        digest = state_sha256(state)
    else:
        join_state_writes(state)
    gather_s = time.perf_counter() - started
    return {"shape": shape, "device": device, "ranks": world, "mixedPrecision": mixed_precision or "none",
            "parameters": params, "rows": rows, "tokens": tokens, "stepSeconds": round(step_s, 3),
            "gatherSeconds": round(gather_s, 3), "peakGpuMemoryGiB": None if peak is None else round(peak, 3),
            "optimizerStep": state.step, "metrics": records[-1], "rank": rank,
            **({"stateSha256": digest} if digest else {})}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reasonloop_torch.gpu_step")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-1.5b")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--mixed-precision", choices=("bf16", "none"), default="bf16")
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state-sha256", action="store_true",
                        help="hash the gathered state (gatherSeconds then includes the hashing)")
    args = parser.parse_args()
    problem = device_problem(args.device)
    if problem:
        parser.exit(2, f"reasonloop_torch.gpu_step: {problem}\n")
    use_device(args.device)
    out = run(args.shape, args.device, None if args.mixed_precision == "none" else args.mixed_precision,
              args.rows, args.tokens, args.seed, args.state_sha256)
    if out.pop("rank") == 0:
        print(json.dumps(out), flush=True)
    leave_ranks()


if __name__ == "__main__":
    main()
