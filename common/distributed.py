"""Data-parallel training under ``torchrun`` (DistributedDataParallel), shared by the graph
encoder's loops and the fusion trainer.

torchrun starts one process per device and tells each its place through the environment
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``).  :func:`session`
joins that process group (NCCL on CUDA, gloo on CPU) and leaves it at the end; the helpers
below are what a training loop needs from it.  Without a group of more than one process each
helper is the identity or does nothing, so a plain run takes the same code path and gives
the same results as before DDP existed.

Conventions: a batch size is per process (PyTorch's), so the global batch grows with the
number of processes; rank 0 alone evaluates and writes, and sends what it found to the
others so that every process takes the same decisions (keep the best state, stop early).
Lives in ``common`` (imports no stage) because the encoder and the fusion trainer both use it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)

EVERY_RANK = {"every_rank": True}
"""``log.info(..., extra=EVERY_RANK)``: a record that processes other than rank 0 show too."""

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """A process's place among the training processes."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates, writes and reports."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> World:
        """What torchrun says (also before :func:`session` and after it); one process without it."""
        env = os.environ
        return cls(int(env.get("WORLD_SIZE", 1)), int(env.get("RANK", 0)),
                   int(env.get("LOCAL_RANK", 0)))


def world() -> World:
    """This process's place in the running process group; a world of one outside a group."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_world_size(), dist.get_rank(), World.from_env().local_rank)


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU.  Under torchrun each process takes its own
    GPU, ``cuda:LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    place = World.from_env()
    if name == "cuda" and place.size > 1:
        return torch.device("cuda", place.local_rank)
    return torch.device(name)


class _OtherRankFilter(logging.Filter):
    """On ranks other than 0: warnings and errors, and records marked :data:`EVERY_RANK`;
    the rest would repeat rank 0's lines once per process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or getattr(record, "every_rank", False)


@contextmanager
def session(device: torch.device) -> Iterator[None]:
    """Join torchrun's process group for the duration (NCCL for a CUDA ``device``, gloo
    otherwise), with logging cut to rank 0's on the other ranks.  Outside torchrun, with one
    process, or inside a group the caller already joined, it changes nothing."""
    place = World.from_env()
    if place.size == 1 or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    handlers = logging.getLogger().handlers if not place.main else []
    quiet = _OtherRankFilter()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
        dist.destroy_process_group()


def wrap(module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """``module`` in DistributedDataParallel (which averages the gradients over the
    processes in ``backward``), or ``module`` itself in a world of one.  Call the result
    for every training forward: DDP only syncs what goes through its own ``forward``."""
    if world().size == 1:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=find_unused_parameters)


def gradient_sync(module: nn.Module, sync: bool):
    """Around a micro-step's forward and backward: ``no_sync`` unless ``sync`` (the last
    micro-step of an accumulated step), so the gradients are all-reduced once per step."""
    if sync or not isinstance(module, DistributedDataParallel):
        return nullcontext()
    return module.no_sync()


def shard(items: list[T]) -> list[T]:
    """This process's share of ``items`` (a list every process holds in the same order):
    every ``size``-th item from its rank, the list first wrapped around so that every
    process gets as many (like ``DistributedSampler``): one with fewer batches would leave
    the others waiting in DDP's all-reduce."""
    place = world()
    if place.size == 1 or not items:
        return items
    total = -(-len(items) // place.size) * place.size
    return [items[i % len(items)] for i in range(place.rank, total, place.size)]


def broadcast(value: T) -> T:
    """Rank 0's ``value`` (any picklable object), on every process."""
    if world().size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, device=_collective_device())
    return box[0]


def on_main(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` run on rank 0 alone, its result sent to every process
    (the others wait).  For evaluations (the numbers of a single-process run: the same
    batches, the same order), writes (one writer) and whatever a decision depends on."""
    if world().size == 1:
        return function(*args, **kwargs)
    return broadcast(function(*args, **kwargs) if world().main else None)


def all_gather(value: T) -> list[T]:
    """Every process's ``value``, in rank order."""
    if world().size == 1:
        return [value]
    values: list = [None] * world().size
    dist.all_gather_object(values, value)
    return values


def all_reduce_sum(*values: float) -> list[float]:
    """The sums over the processes of a few numbers (float64)."""
    if world().size == 1:
        return list(values)
    summed = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    dist.all_reduce(summed)
    return summed.tolist()


def all_reduce_mean(value: float) -> float:
    """The mean over the processes of one number."""
    return all_reduce_sum(value)[0] / world().size


def barrier() -> None:
    """Wait until every process got here."""
    if world().size > 1:
        device = _collective_device()
        dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)


def sync_generator(generator: torch.Generator) -> None:
    """Give ``generator`` rank 0's state, so that processes whose draws differed (sampled
    subgraphs of different sizes) agree again on the next epoch's data order."""
    if world().size > 1:
        generator.set_state(broadcast(generator.get_state()))


def sync_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (batch-norm running statistics) to every process.  DDP does so
    at the start of each forward, so after the last training step they differ by that
    step's update; parameters need no copy, DDP keeps them equal."""
    if world().size == 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


def log_digest(module: nn.Module, what: str) -> None:
    """Log, from every process, a SHA-256 of ``module``'s parameters and buffers: equal
    digests show that the replicas ended identical (nothing is logged in a world of one)."""
    place = world()
    if place.size == 1:
        return
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    log.info("rank %d of %d: %s sha256 %s", place.rank, place.size, what, digest.hexdigest(),
             extra=EVERY_RANK)


def metrics_fields() -> dict:
    """``{"processes": N}`` for a run's metrics when N > 1 processes trained it (batch sizes
    are per process); nothing for a plain run, whose metrics keep their keys."""
    size = world().size
    return {"processes": size} if size > 1 else {}


def _collective_device() -> torch.device:
    """Where object and number collectives stage their tensors: NCCL only moves CUDA ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
