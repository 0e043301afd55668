"""FSDP2 over the ranks torchrun started: the process group (NCCL on CUDA, gloo on the CPU), `fully_shard`
per decoder layer and once at the root (optionally with bf16 mixed precision), gradients summed across
ranks, and the moves between full tensors (what checkpoints hold) and each rank's shards."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor


def device_problem(device: str) -> str | None:
    """Why this process cannot train on `device`, or None."""
    if device == "cuda" and not torch.cuda.is_available():
        return ("--device cuda, but torch sees no CUDA device (torch.cuda.is_available() is False: no GPU, no "
                f"driver, or a CPU-only torch build {torch.__version__}); use --device cpu or a GPU machine")
    return None


def use_device(device: str) -> None:
    """Deterministic kernels (a restarted trainer repeats the same update bit for bit) on this rank's
    device: under CUDA its own GPU (LOCAL_RANK), chosen before NCCL starts, and the cuBLAS workspace
    setting deterministic cuBLAS needs."""
    if device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.use_deterministic_algorithms(True)


def init_ranks(device_type: str = "cpu", timeout_s: float = 600) -> tuple[int, int]:
    """Joins the group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR…); a plain process is rank 0 of 1."""
    if not dist.is_initialized():
        if "RANK" not in os.environ:
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(_free_port()))
            os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        backend = "nccl" if device_type == "cuda" else "gloo"
        timeout = timedelta(seconds=timeout_s)
        store = attempt_store(timeout)
        if store is None:
            dist.init_process_group(backend, timeout=timeout)
        else:
            dist.init_process_group(backend, timeout=timeout, store=store, rank=int(os.environ["RANK"]),
                                    world_size=int(os.environ["WORLD_SIZE"]))
    return dist.get_rank(), dist.get_world_size()


def leave_ranks() -> None:
    """Leaves the group once every rank is done with it, and ends the process. A two-rank gloo run still
    aborted at exit about once in thirty here ("terminate called without an active exception") after a
    clean barrier and destroy_process_group: a C++ thread torch leaves behind, met by the interpreter's
    teardown. The barrier keeps a rank from closing its connections under a peer's last receive; the
    process then ends without that teardown, its output flushed, with status 0."""
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def attempt_store(timeout: timedelta) -> dist.Store | None:
    """Under torchrun, the rendezvous store with this attempt's own key prefix (TORCHELASTIC_RESTART_COUNT).
    The store outlives a restart (`--max-restarts`, after a rank died); without the prefix the restarted
    ranks read the dead ranks' gloo addresses and fail (`--standalone`) or wait for them (static)."""
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if attempt is None:
        return None
    rank = int(os.environ["RANK"])
    # As torch.distributed.rendezvous does: the agent hosts the store when it says so, else rank 0 does.
    agent_hosts = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == str(True)
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), int(os.environ["WORLD_SIZE"]),
                          is_master=not agent_hosts and rank == 0, timeout=timeout, multi_tenant=True)
    return dist.PrefixStore(f"reasonloop_torch/attempt_{attempt}", store)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: orchestration.trainer.mixedPrecision: the dtype layers compute in (parameters, activations, gathers).
MIXED_PRECISION_DTYPES = {"bf16": torch.bfloat16}


def mixed_precision_policy(mixed_precision: str | None) -> MixedPrecisionPolicy:
    """None: everything in the parameters' dtype. "bf16": each layer's parameters all-gathered and used in
    bfloat16 for forward and backward, gradients reduced in float32 and the sharded parameters, AdamW's
    moments and the checkpoints kept float32."""
    if mixed_precision is None:
        return MixedPrecisionPolicy()
    if mixed_precision not in MIXED_PRECISION_DTYPES:
        raise ValueError(f"mixed precision {mixed_precision!r}: only {', '.join(MIXED_PRECISION_DTYPES)} (or none)")
    return MixedPrecisionPolicy(param_dtype=MIXED_PRECISION_DTYPES[mixed_precision], reduce_dtype=torch.float32)


def shard_model(model: torch.nn.Module, device_type: str = "cpu", mixed_precision: str | None = None) -> torch.nn.Module:
    """fully_shard each decoder layer, then the root (embeddings, final norm, lm_head), which moves the
    parameters to the mesh's device (this rank's GPU under CUDA); gradients are summed across ranks
    because each rank's loss is already normalised over the whole mini-batch."""
    mesh = init_device_mesh(device_type, (dist.get_world_size(),))
    policy = mixed_precision_policy(mixed_precision)
    for layer in model.model.layers:  # type: ignore[attr-defined]
        fully_shard(layer, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
            # A plain SUM: gloo has no PREMUL_SUM, which FSDP2 would otherwise use for float32 gradients.
            module.set_force_sum_reduction_for_comms(True)
    return model


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor (an all-gather on every rank for a DTensor)."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def shard_like(full: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`full` laid out as `like` is (the same mesh and placements for a DTensor parameter)."""
    if isinstance(like, DTensor):
        return distribute_tensor(full.to(like.dtype), like.device_mesh, like.placements)
    return full.to(like.dtype).clone()
