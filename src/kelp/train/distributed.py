"""Data-parallel training under torchrun: every ``kelp train`` run of a torch model works
unchanged as ``torchrun --nproc_per_node N --no-python kelp train ...`` (and across machines
with torchrun's rendezvous flags).

torchrun starts N processes and sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and the
rendezvous address) in their environment; :func:`init` joins them into one process group (gloo
on CPU, nccl for a CUDA model). The harness (:func:`kelp.train.loop.fit`) then wraps the model in
:class:`torch.nn.parallel.DistributedDataParallel` (Li et al. 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training"): each rank trains on its own shard of every
batch (:func:`shard`) and DDP averages the gradients with an all-reduce, so N ranks take the
optimizer step of one process on the whole batch. Every rank draws the same global batch from
the task's seeded data stream, so the stream position in a checkpoint does not depend on the
number of ranks and a run resumes under any world size. Rank 0 alone writes files (settings,
tokenizers, ``metrics.jsonl``, checkpoints) and prints; :func:`main_first` lets it prepare them
before the other ranks read them.

Without torchrun (``WORLD_SIZE`` unset or 1) nothing here imports torch or starts anything.
"""

from __future__ import annotations

import atexit
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes, ``local_rank`` on its
    machine (its GPU index)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the one that writes files and prints."""
        return self.rank == 0


def world() -> World:
    """The torchrun environment of this process (``World()`` outside torchrun)."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def init(device: str = "cpu") -> World:
    """Join the process group of a torchrun launch (once; later calls return the same world):
    backend nccl when ``device`` is a CUDA device, gloo otherwise. The group is left
    (:func:`close`) at interpreter exit at the latest: a gloo group still alive while Python
    finalises can abort the process (SIGABRT, "terminate called without an active exception").
    Outside torchrun, returns ``World()`` and does nothing."""
    here = world()
    if here.size == 1:
        return here
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        if backend == "nccl":
            import torch

            torch.cuda.set_device(here.local_rank)
        dist.init_process_group(backend=backend)
        atexit.register(close)
    return here


def active() -> bool:
    """Whether this process is in a process group of more than one rank."""
    if world().size == 1:
        return False
    import torch.distributed as dist

    return dist.is_initialized()


def barrier() -> None:
    """Wait until every rank gets here (nothing outside a process group)."""
    if active():
        import torch.distributed as dist

        dist.barrier()


@contextmanager
def main_first():
    """Rank 0 runs the body first (e.g. writes a settings file or trains a tokenizer), the other
    ranks wait and then run it (and find the files made)."""
    here = world()
    if not here.main:
        barrier()
    try:
        yield
    finally:
        if here.main:
            barrier()


def shard(batch: Any, rank: int, size: int) -> Any:
    """Rank ``rank``'s part of ``batch`` of ``size`` parts, cut along the batch (first)
    dimension in contiguous pieces (``Tensor.tensor_split``; uneven batches give the first ranks
    one row more). Dicts and tuples are cut element by element; a list (of samples) and a PyG
    ``Batch`` (by graphs) are cut into pieces of samples; anything else is kept whole.
    ``size == 1`` returns ``batch`` unchanged."""
    if size == 1:
        return batch
    import torch

    if isinstance(batch, dict):
        return {key: shard(value, rank, size) for key, value in batch.items()}
    if isinstance(batch, tuple):
        return tuple(shard(value, rank, size) for value in batch)
    if isinstance(batch, list):
        return batch[_bounds(len(batch), rank, size)]
    if torch.is_tensor(batch):
        return batch.tensor_split(size)[rank] if batch.dim() > 0 else batch
    if hasattr(batch, "num_graphs") and hasattr(batch, "index_select"):
        from torch_geometric.data import Batch

        return Batch.from_data_list(batch.index_select(range(batch.num_graphs)[_bounds(batch.num_graphs, rank, size)]))
    return batch


def _bounds(n: int, rank: int, size: int) -> slice:
    """The slice of ``range(n)`` that ``tensor_split`` gives part ``rank`` of ``size``."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def rows(batch: Any) -> int | None:
    """The number of samples in ``batch`` (first tensor's first dimension, a list's length, a PyG
    ``Batch``'s graphs), or ``None`` when it has none."""
    import torch

    if isinstance(batch, dict):
        batch = next(iter(batch.values()), None)
    elif isinstance(batch, tuple):
        batch = batch[0] if batch else None
    if isinstance(batch, list):
        return len(batch)
    if torch.is_tensor(batch):
        return batch.shape[0] if batch.dim() > 0 else None
    return getattr(batch, "num_graphs", None)


def mean(value: float, device: str = "cpu") -> float:
    """The mean of ``value`` over the ranks (``value`` itself outside a process group)."""
    if not active():
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.item() / dist.get_world_size()


def total(values: dict[str, float], device: str = "cpu") -> dict[str, float]:
    """``values`` summed key by key over the ranks (every rank must pass the same keys)."""
    if not active() or not values:
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return {k: (int(v) if isinstance(values[k], int) else v) for k, v in zip(keys, tensor.tolist())}


def from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``torch.distributed.broadcast_object_list``)."""
    if not active():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def close() -> None:
    """Leave the process group, if in one."""
    if active():
        import torch.distributed as dist

        dist.destroy_process_group()


__all__ = ["World", "active", "barrier", "close", "from_main", "init", "main_first", "mean", "rows", "shard",
           "total", "world"]
