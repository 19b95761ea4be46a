"""Data-parallel training with ``torch.distributed``, kept inside the engine.

``torchrun --nproc-per-node N -m ganforge train RECIPE`` starts N processes with
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` in their environment; :meth:`Distributed.from_env`
joins them into one process group (NCCL on CUDA, gloo on CPU). Algorithms never see it.

How the work is split (the choices that make 2 processes x batch B train like 1 process
x batch 2B, which ``tests/test_distributed.py`` checks):

- ``train.batch_size`` is the **global** batch: every rank draws the same global index
  batch from the (identically seeded) sampler and keeps its contiguous shard
  ``[r B/W, (r+1) B/W)``.
- Batch-shaped random draws (latent noise, gradient-penalty interpolation, codes, ...)
  go through :func:`ganforge.nn.parallel.sharded`: every rank draws the global tensor from the same RNG
  state and keeps its rows. A sample's randomness then depends on its global index,
  not on the number of processes, and every rank's RNG stays identical, so the rank-0
  checkpoint resumes every rank exactly. (Randomness drawn inside modules, e.g.
  dropout masks, is the same on every rank for its own samples.)
- Gradients are averaged with one flat all-reduce per phase, after ``backward`` and
  before clipping and the optimizer step. The losses are means over the local batch,
  so the average is the gradient of the global mean. A flat all-reduce rather than the
  ``DistributedDataParallel`` wrapper: it also fits phases with double backward
  (gradient penalties) and several critic passes per step, and the wrapper's overlap of
  communication with backward matters little for GAN-sized networks.
- Batch norm: ``train.sync_bn`` makes its statistics global (:class:`ganforge.nn.parallel.SyncBatchNorm`,
  which also runs on CPU/gloo where ``torch.nn.SyncBatchNorm`` does not).
- Logged scalars are averaged over ranks when they are read; a stop (signal, NaN) is
  agreed on at those reads, so every rank stops at the same step.
- Rank 0 alone writes the run dir; before every checkpoint all ranks check that their
  weights are bitwise equal to rank 0's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ganforge import errors
from ganforge.errors import ConfigError, GanforgeError
from ganforge.nn.parallel import Shard


class Distributed:
    """The process group of a data-parallel run, or a single process (``world == 1``),
    where every method is a no-op."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self._owns_group = False

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> Distributed:
        """Join the group torchrun describes in the environment (single process without)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        out = cls(rank, world, local)
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(local)
            dist.init_process_group(backend)
            out._owns_group = True
        return out

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: ``cuda:LOCAL_RANK`` when training on CUDA."""
        if self.world > 1 and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def finish(self, result: Any) -> Any:
        """Wait for every rank at the end of a successful run, then pass ``result`` on.

        Rank 0 still writes samples and the generator when the others are done; tearing
        the group down under it can abort a rank (gloo: "terminate called without an
        active exception"). Not on the error path: a rank that failed never arrives.
        """
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
        return result

    def close(self) -> None:
        if self._owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_group = False

    # -- batches ------------------------------------------------------------------------
    def check_batch_size(self, batch_size: int) -> int:
        """The per-rank batch of a global ``batch_size``; ConfigError if it does not split."""
        if batch_size % self.world:
            raise ConfigError(
                f"train.batch_size={batch_size} is the global batch and must split evenly "
                f"over the {self.world} processes: use a multiple of {self.world}."
            )
        return batch_size // self.world

    def local(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous shard of a global batch of indices."""
        if self.world == 1:
            return indices
        n = len(indices) // self.world
        return indices[self.rank * n : (self.rank + 1) * n]

    # -- collectives --------------------------------------------------------------------
    def broadcast_parameters(self, nets: Iterable[nn.Module]) -> None:
        """Copy rank 0's parameters and buffers to every rank (as DDP does at start)."""
        if self.world == 1:
            return
        import torch.distributed as dist

        for net in nets:
            for t in [*net.parameters(), *net.buffers()]:
                dist.broadcast(t.data, src=0)

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Replace every gradient with its mean over ranks: one flat all-reduce."""
        if self.world == 1:
            return
        import torch.distributed as dist

        # A parameter without a gradient on this rank still takes part (as zeros), so
        # every rank sends a buffer of the same layout.
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(g).clone()
            offset += n

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over ranks of a tensor of the same shape on every rank."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        out = values.clone()
        dist.all_reduce(out)
        return out / self.world

    def any(self, flag: bool | torch.Tensor, device: torch.device | None = None) -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        if self.world == 1:
            return bool(flag)
        import torch.distributed as dist

        t = torch.as_tensor(bool(flag), dtype=torch.int32, device=device).reshape(1)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (small picklable values: a run dir name)."""
        if self.world == 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, fn: Callable[[], str]) -> str:
        """``fn()`` run on rank 0, its result on every rank (a run dir, a checkpoint name).

        A :class:`GanforgeError` from ``fn`` (an output dir that is not empty, no
        checkpoint) is raised on every rank, so none is left waiting for the others.
        """
        if self.world == 1:
            return fn()
        result, error = None, None
        if self.is_main:
            try:
                result = fn()
            except GanforgeError as e:
                error = (type(e).__name__, str(e))
        result, error = self.broadcast_object((result, error))
        if error is not None:
            cls = getattr(errors, error[0], GanforgeError)
            raise (cls if issubclass(cls, GanforgeError) else GanforgeError)(error[1])
        return str(result)

    def check_consistent(self, nets: dict[str, nn.Module]) -> None:
        """Raise if any rank's parameters or buffers differ bitwise from rank 0's.

        Ranks drift apart only through a bug (a gradient left out of the all-reduce,
        rank-dependent randomness in an update): checked before every checkpoint so
        that such a run stops before it saves weights that only rank 0 had.
        """
        if self.world == 1:
            return
        import torch.distributed as dist

        names, tensors = [], []
        for key, net in sorted(nets.items()):
            for n, t in [*net.named_parameters(), *net.named_buffers()]:
                if t.is_floating_point():
                    names.append(f"{key}.{n}")
                    tensors.append(t.detach().reshape(-1).float())
        mine = torch.cat(tensors)
        ref = mine.clone()
        dist.broadcast(ref, src=0)
        bad = ~((mine == ref) | (mine.isnan() & ref.isnan()))
        differ = self.any(bool(bad.any()), mine.device)
        if differ:
            offsets, where, start = [], [], 0
            for name, t in zip(names, tensors, strict=True):
                offsets.append((name, start, start + t.numel()))
                start += t.numel()
            for name, a, b in offsets:
                if bad[a:b].any():
                    where.append(name)
            raise RuntimeError(
                f"rank {self.rank}: weights differ from rank 0 in {where[:5] or 'another rank'}; "
                "the data-parallel ranks diverged (please report this with the recipe)."
            )
