"""Building blocks of data parallelism that networks and algorithms use.

- :func:`sharded`: batch-shaped random draws split over ranks, so that a sample's
  randomness depends on its global index in the batch and not on the number of
  processes (2 processes x batch B draw what 1 process x batch 2B draws).
- :class:`SyncBatchNorm`: batch norm over the global batch; runs on CPU (gloo) too.

The engine (:mod:`ganforge.engine.distributed`) sets the active shard while it trains;
outside it (a single process, evaluation, sampling) everything here is the plain thing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Shard:
    """This process's place in the data-parallel group: rank ``rank`` of ``world``."""

    rank: int = 0
    world: int = 1


_SHARD = Shard()


def current_shard() -> Shard:
    return _SHARD


@contextlib.contextmanager
def active_shard(shard: Shard) -> Iterator[None]:
    """Make :func:`sharded` draws split by ``shard`` inside the block (the training loop)."""
    global _SHARD
    previous, _SHARD = _SHARD, shard
    try:
        yield
    finally:
        _SHARD = previous


def sharded(
    draw: Callable[[tuple[int, ...]], torch.Tensor], shape: tuple[int, ...]
) -> torch.Tensor:
    """A batch-shaped random tensor of ``shape`` = (n, ...), split across ranks.

    ``draw(shape)`` draws from the global RNG (e.g. ``lambda s: torch.randn(s)``). With
    ``W`` ranks it is called for ``(n W, ...)`` rows and this rank keeps rows
    ``[r n, (r + 1) n)``: the draw of a sample is the same however many processes train.
    Only for training draws from the global RNG; seeded evaluation draws do not shard.
    """
    s = _SHARD
    if s.world == 1:
        return draw(tuple(shape))
    n = shape[0]
    return draw((n * s.world, *shape[1:]))[s.rank * n : (s.rank + 1) * n]


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are over the global batch (all ranks).

    One autograd-aware all-reduce of [sum x, sum x^2, count] per call; the backward of
    the all-reduce sums the ranks' gradients of the statistics, which with the
    gradient average gives the gradient of the global-batch loss. Runs on CPU (gloo)
    and CUDA. Outside training, or in a single process, it is a plain batch norm.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        s = current_shard()
        if not self.training or s.world == 1:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        stats = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        total = stats[2 * c]
        mean = stats[:c] / total
        var = (stats[c : 2 * c] / total - mean * mean).clamp_min(0)  # biased, as BN
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased.detach())
                self.num_batches_tracked += 1
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d/3d in ``module`` with :class:`SyncBatchNorm` (same
    parameters and running statistics)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, SyncBatchNorm
    ):
        out = SyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        with torch.no_grad():
            if module.affine:
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
            if module.track_running_stats:
                out.running_mean.copy_(module.running_mean)
                out.running_var.copy_(module.running_var)
                out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
        return out.to(next(iter(module.buffers()), torch.empty(0)).device)
    for name, child in module.named_children():
        setattr(module, name, convert_sync_batchnorm(child))
    return module
