"""The Temporal worker of the torch trainer, started with torchrun on every rank:

  torchrun --nproc-per-node N -m reasonloop_torch.worker [--task-queue reasonloop-trainer] [--device cpu|cuda]

--device cpu: gloo ranks; --device cuda: NCCL ranks, one GPU each (LOCAL_RANK), FSDP2 moving each rank's
shards to its GPU and the state gathered back to the CPU, float32, for the checkpoint.

Rank 0 polls `<task queue>-torch` (and its own queue, for the trainerQueue routing) with the Python SDK,
broadcasts each activity's input to every rank over a gloo group kept for commands, computes its own
part and heartbeats; the other ranks wait for commands and compute theirs. TEMPORAL_ADDRESS and
TEMPORAL_NAMESPACE say where the server is, as for the `temporal` CLI and the TypeScript workers.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import contextvars
import os
import random
import socket
import sys
import threading
from datetime import timedelta
from typing import Any, Iterator

import torch
import torch.distributed as dist

from .sharding import device_problem, init_ranks, leave_ranks, use_device
from .trainer import PermanentError, Trainer

#: Appended to the run's trainer queue: only torch trainers poll it.
TORCH_QUEUE_SUFFIX = "-torch"
#: Ranks other than 0 wait this long for the next command (idle workers are normal between runs).
COMMAND_TIMEOUT = timedelta(days=30)


def own_queue(shared: str) -> str:
    """`<shared>-<hostname>-<pid>-<random>`, as activities/trainerQueue.ts names a trainer's own queue."""
    host = "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname())
    return f"{shared}-{host}-{os.getpid()}-{random.getrandbits(32):08x}"


class RanksBroken(Exception):
    """A command failed part-way on this rank: the ranks may be at different collectives, so this process
    group cannot run another command. The worker stops; its supervisor (torchrun --max-restarts, Slurm,
    Kubernetes) starts it again, and the retried activity reloads the last verified checkpoint."""


class Ranks:
    """Runs a command on every rank: rank 0 broadcasts it, each rank runs it, rank 0 gets its result."""

    def __init__(self, trainer: Trainer, group: Any) -> None:
        self.trainer = trainer
        self.group = group
        self.lock = threading.Lock()
        #: Set once a command failed part-way: nothing more is sent over the group.
        self.broken: BaseException | None = None

    def run(self, command: dict[str, Any], on_progress: Any) -> Any:
        with self.lock:
            if self.broken:
                raise RanksBroken(f"an earlier command failed part-way ({self.broken}); this worker is stopping")
            try:
                dist.broadcast_object_list([command], src=0, group=self.group)
                return execute(self.trainer, command, on_progress)
            except PermanentError:
                raise
            except BaseException as e:
                self.broken = e
                raise RanksBroken(f"rank 0 of {dist.get_world_size()}: {type(e).__name__}: {e}") from e

    def stop(self) -> None:
        with self.lock:
            if not self.broken:
                dist.broadcast_object_list([None], src=0, group=self.group)


def execute(trainer: Trainer, command: dict[str, Any], on_progress: Any) -> Any:
    if command["kind"] == "updatePolicy":
        return trainer.update_policy(command["input"], on_progress)
    raise ValueError(f"unknown command {command['kind']}")


#: How long a stopping worker gives the activity in flight to report its result.
SHUTDOWN_GRACE = timedelta(seconds=10)

#: Heartbeats per heartbeat timeout (workers/keepAlive.ts BEATS_PER_TIMEOUT).
BEATS_PER_TIMEOUT = 4


@contextlib.contextmanager
def keep_alive() -> Iterator[None]:
    """Heartbeats from a timer while the activity runs (as workers/keepAlive.ts does for the TypeScript
    workers), so a dead worker is noticed after the heartbeat timeout, whatever phase it died in."""
    from temporalio import activity

    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    done = threading.Event()
    context = contextvars.copy_context()

    def beat() -> None:
        while not done.wait(timeout.total_seconds() / BEATS_PER_TIMEOUT):
            activity.heartbeat()

    thread = threading.Thread(target=context.run, args=(beat,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def follow(trainer: Trainer, group: Any) -> None:
    """Ranks > 0: run each command rank 0 broadcasts, until it sends None. A failure other than a
    PermanentError (which every rank meets alike, before any collective) leaves the ranks out of step:
    this rank exits non-zero, and torchrun stops the others."""
    while True:
        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0, group=group)
        if box[0] is None:
            return
        try:
            execute(trainer, box[0], lambda _phase: None)
        except PermanentError:
            continue
        except BaseException as e:  # noqa: BLE001 - whatever it was, the group is no longer usable
            raise RanksBroken(f"rank {dist.get_rank()}: {type(e).__name__}: {e}") from e


async def serve(ranks: Ranks, shared_queue: str) -> None:
    from temporalio import activity
    from temporalio.client import Client
    from temporalio.exceptions import ApplicationError
    from temporalio.worker import Worker

    queue = shared_queue + TORCH_QUEUE_SUFFIX
    mine = own_queue(queue)

    @activity.defn(name="trainerQueue")
    def trainer_queue() -> str:
        return mine

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    @activity.defn(name="updatePolicy")
    def update_policy(request: dict[str, Any]) -> dict[str, Any]:
        try:
            with keep_alive():
                return ranks.run({"kind": "updatePolicy", "input": request},
                                 lambda phase: activity.heartbeat({"phase": phase}))
        except PermanentError as e:
            raise ApplicationError(str(e), type="TorchTrainerPermanent", non_retryable=True) from e
        except RanksBroken as e:
            # Retryable: the workflow sends the update to another torch trainer (or this one restarted),
            # which reloads the last verified checkpoint. This worker stops polling once the failure is sent.
            loop.call_soon_threadsafe(stopping.set)
            raise ApplicationError(f"torch trainer ranks failed mid-update, the worker restarts: {e}",
                                   type="TorchTrainerRanksFailed") from e

    client = await Client.connect(os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
                                  namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    # One update at a time: the ranks run one command at a time, and the state is shared.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    workers = [Worker(client, task_queue=q, activities=[trainer_queue, update_policy], activity_executor=executor,
                      max_concurrent_activities=1, graceful_shutdown_timeout=SHUTDOWN_GRACE)
               for q in (queue, mine)]
    print(f"reasonloop_torch: rank 0 of {dist.get_world_size()} polls {queue} and {mine}", flush=True)

    async def stop_when_broken() -> None:
        await stopping.wait()
        # shutdown() returns once the failed activity's result has been sent; run() then returns.
        await asyncio.gather(*(w.shutdown() for w in workers))

    watcher = asyncio.create_task(stop_when_broken())
    try:
        await asyncio.gather(*(w.run() for w in workers))
    finally:
        watcher.cancel()
        ranks.stop()
    if ranks.broken:
        raise RanksBroken(f"rank 0: {ranks.broken}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reasonloop_torch.worker")
    parser.add_argument("--task-queue", default="reasonloop-trainer",
                        help="the run's orchestration.taskQueues.trainer; the worker polls it + '-torch'")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (gloo ranks) or cuda (NCCL ranks, one GPU each: LOCAL_RANK)")
    args = parser.parse_args()
    problem = device_problem(args.device)
    if problem:
        parser.exit(2, f"reasonloop_torch.worker: {problem}\n")
    use_device(args.device)
    rank, _ = init_ranks(args.device)
    group = dist.new_group(backend="gloo", timeout=COMMAND_TIMEOUT)
    trainer = Trainer(rank, args.device)
    try:
        if rank == 0:
            asyncio.run(serve(Ranks(trainer, group), args.task_queue))
        else:
            follow(trainer, group)
    except RanksBroken as e:
        # No destroy_process_group: its collectives could wait on a dead rank. Exiting non-zero makes
        # torchrun stop the other ranks and, with --max-restarts, start them all again.
        print(f"reasonloop_torch: {e}; exiting so that the ranks restart together", file=sys.stderr, flush=True)
        os._exit(1)
    leave_ranks()


if __name__ == "__main__":
    main()
