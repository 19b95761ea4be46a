"""In-memory datasets and the seeded, resumable infinite sampler.

A dataset holds its samples as tensors: images as uint8 NCHW (4x less memory than
float; converted to float in [-1, 1] per batch), points as float (N, D), labels as
int64 (N,). A batch is a dict of tensors with the keys of DESIGN.md ("real",
"label", ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


def uint8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return x.float().div_(127.5).sub_(1.0)


def float_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8, rounding half up: floor((x + 1) * 127.5 + 0.5), clamped.

    This is the one quantisation rule of the project (StyleGAN2-ADA's), used before
    saving images and before any feature extractor.
    """
    return torch.floor((x.detach().float() + 1.0) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)


def spread(n: int, limit: int | None) -> torch.Tensor:
    """Indices of ``limit`` samples evenly spaced over ``range(n)`` (all of them if None).

    Evenly spaced rather than "the first ``limit``": class-sorted sources (the CIFAR-10
    JPEG folders) then still cover every class, and the choice is deterministic.
    """
    if limit is None or limit >= n:
        return torch.arange(n)
    return torch.arange(limit) * n // limit


@dataclass
class TensorDataset:
    """A dataset held in memory.

    Attributes:
        name: registry name ("mnist", "ring8", ...).
        kind: "images" (``real`` is uint8 (N, C, H, W)) or "points" (float (N, D)).
        tensors: "real" and optionally "label" (int64 (N,)), all with the same N.
        num_classes: number of classes when labelled, else None.
        info: extra facts for metrics and plots (mode ``centers`` (K, D) and ``std`` of
            toy mixtures, class names, source paths, checksums).
        aliases: extra batch keys that name an existing tensor, e.g. ``{"target": "real"}``
            for a paired translation set: ``real`` stays the images the generator must
            produce (the reference of every metric) and the batch also carries them under
            the key of DESIGN.md, without a copy.

    Besides ``real``, image datasets may hold more uint8 image tensors (N, C', H', W') of the
    same N: the condition of a translation pair (``source``, ``a``, ``low``). Every uint8
    tensor of four dimensions becomes float in [-1, 1] in :meth:`batch`.
    """

    name: str
    kind: str
    tensors: dict[str, torch.Tensor]
    num_classes: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = {k: len(v) for k, v in self.tensors.items()}
        if "real" not in n:
            raise ValueError("a dataset needs a 'real' tensor")
        if len(set(n.values())) != 1:
            raise ValueError(f"tensors of a dataset must have the same length, got {n}")
        if self.kind not in ("images", "points"):
            raise ValueError(f"kind must be 'images' or 'points', got {self.kind!r}")
        if self.kind == "images" and self.tensors["real"].dtype != torch.uint8:
            raise ValueError("image datasets store uint8 NCHW tensors")
        for alias, key in self.aliases.items():
            if key not in self.tensors or alias in self.tensors:
                raise ValueError(f"alias {alias!r} -> {key!r}: needs an existing, other key")

    def __len__(self) -> int:
        return len(self.tensors["real"])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) or (D,)."""
        return tuple(self.tensors["real"].shape[1:])

    def to(self, device: torch.device | str) -> TensorDataset:
        """Move the tensors (e.g. onto the GPU when they fit)."""
        self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The samples at ``index`` as a batch; images become float in [-1, 1]."""
        index = index.to(self.tensors["real"].device)
        out = {k: v[index] for k, v in self.tensors.items()}
        if self.kind == "images":
            for k, v in out.items():
                if v.dtype == torch.uint8 and v.dim() == 4:
                    out[k] = uint8_to_float(v)
        for alias, key in self.aliases.items():
            out[alias] = out[key]
        return out


class InfiniteSampler:
    """Endless batches of indices in seeded random order, resumable by position.

    Epoch ``e`` visits the indices in the order ``randperm(n)`` drawn from a generator
    seeded with ``seed * 1_000_003 + e``; a batch that runs past the end of an epoch
    continues into the next one, so every sample is seen once per epoch and batches
    always have ``batch_size`` elements. The state is just ``(epoch, position)``, so
    resuming reproduces the exact same stream without saving any RNG.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int = 0, device: str | torch.device = "cpu"
    ) -> None:
        """``device``: where the index batches live (the dataset's device). The order is
        drawn on the CPU (the same on every device) and copied once per epoch, so that
        taking a batch never copies indices to the GPU, which would wait for the GPU
        to finish its queued work every step (a pageable host-to-device copy syncs)."""
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.device = torch.device(device)
        self.epoch, self.position = 0, 0
        self._perm_epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.n, generator=g).to(self.device)
            self._perm, self._perm_epoch = perm, epoch
        return self._perm

    def __iter__(self) -> InfiniteSampler:
        return self

    def __next__(self) -> torch.Tensor:
        parts, need = [], self.batch_size
        while need > 0:
            perm = self._permutation(self.epoch)
            take = perm[self.position : self.position + need]
            parts.append(take)
            need -= len(take)
            self.position += len(take)
            if self.position >= self.n:
                self.epoch, self.position = self.epoch + 1, 0
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "n": self.n}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("n", self.n) != self.n or state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"sampler state is for a dataset of {state.get('n')} samples with seed "
                f"{state.get('seed')}, but this one has {self.n} with seed {self.seed}"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
