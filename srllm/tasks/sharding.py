"""Evaluation sharded across processes (``accelerate launch --multi_gpu --num_processes k``; on a
machine without GPUs this starts k CPU processes).

Each process takes every k-th item (rank r: items r, r+k, r+2k, ...), runs the model on its share
only, and the results are gathered into the original order on every process; the main process
alone writes files. With one process (no ``accelerate launch``) everything runs as usual. The
judges and the other cheap scorers run on every process over all items, so every process ends
with the same table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, items: list[T]) -> list[T]:
        """This process's share: every ``world``-th item starting at ``rank``."""
        return items[self.rank :: self.world]

    def gather(self, local: list[R], n: int) -> list[R]:
        """Every process's share, back in the original order of the ``n`` items."""
        if self.world == 1:
            return list(local)
        import torch.distributed as dist  # lazy: torch is a heavy import, needed only here

        shares: list[Any] = [None] * self.world
        dist.all_gather_object(shares, local)
        result: list[Any] = [None] * n
        for rank, share in enumerate(shares):
            result[rank::self.world] = share
        return result

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist  # lazy: torch is a heavy import, needed only here

            dist.barrier()


def current_shard() -> Shard:
    """This process's shard: from the launcher's environment under ``accelerate launch``, else the only one."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist  # lazy: torch is a heavy import, needed only here

        # accelerate's launcher (torchrun underneath) sets RANK, WORLD_SIZE and MASTER_ADDR/PORT. Its
        # PartialState sees no distributed setup on a machine without GPUs, so the process group is
        # opened here directly; gloo works on CPU and GPU machines alike for gathering Python objects.
        if not dist.is_initialized():
            dist.init_process_group("gloo")
        return Shard(dist.get_rank(), dist.get_world_size())
    return Shard()


def map_sharded(shard: Shard, fn: Callable[[list[T]], list[R]], items: list[T]) -> list[R]:
    """``fn`` over this process's share of ``items``, gathered back into one list in input order."""
    local = fn(shard.take(items)) if shard.take(items) else []
    return shard.gather(local, len(items))
