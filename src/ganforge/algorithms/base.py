"""The algorithm protocol: the only place that knows how a GAN variant trains.

An algorithm declares its networks, its optimizers (which networks each one steps)
and its phases, and computes a phase's loss. It never calls ``backward()`` or steps an
optimizer: the engine does, the same way for every algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class Phase:
    """One kind of update in the training schedule.

    The engine counts steps; at step ``s`` the phase runs when
    ``start <= s < stop`` and ``(s - start) % every == 0``. ``n_critic`` critic steps
    per generator step is ``Phase("d", "d")`` plus ``Phase("g", "g", every=n_critic)``;
    a pre-training stage is a phase with ``stop`` set, the stage after it one with
    ``start`` set.
    """

    name: str
    optimizer: str
    every: int = 1
    start: int = 0
    stop: int | None = None

    def due(self, step: int) -> bool:
        if step < self.start or (self.stop is not None and step >= self.stop):
            return False
        return (step - self.start) % self.every == 0


@dataclass
class LossOutput:
    """A phase's loss and the scalars to log (tensors: logged without a host sync)."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor] = field(default_factory=dict)


class Algorithm:
    """Base class for algorithms (plain Python object owning ``nets``).

    Class attributes declare the structure so that a config can be checked before
    anything is built:

    - ``networks``: network key -> role ("generator", "critic", "encoder", ...).
    - ``optimizers``: optimizer key -> the network keys whose parameters it steps.
    - ``ema_networks``: networks whose exponential moving average the engine keeps and
      uses for sampling and evaluation.
    """

    networks: ClassVar[dict[str, str]] = {}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {}
    ema_networks: ClassVar[tuple[str, ...]] = ()

    def __init__(self, nets: dict[str, nn.Module]) -> None:
        missing = set(self.networks) - set(nets)
        if missing:
            raise ValueError(f"{type(self).__name__} needs networks {sorted(missing)}")
        self.nets = nets

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        """Constructor arguments filled in for each network when a recipe leaves them out.

        ``data`` is the dataset (``shape``, ``num_classes``). Only arguments a network's
        constructor accepts are used.
        """
        return {}

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        raise NotImplementedError

    def attach_data(self, dataset: Any) -> None:
        """Called once before training with the training dataset (default: nothing).
        Semi-supervised algorithms keep their labelled subset from it."""

    def check_batch_size(self, batch_size: int) -> None:
        """Raise :class:`~ganforge.errors.ConfigError` if the algorithm cannot use this
        batch size (called before training; default: any size)."""

    def after_step(self, phase: str, step: int) -> None:
        """Called by the engine right after ``phase``'s optimizer step: projections
        (weight clipping) and state updates (Lagrange multipliers) go here."""

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` samples, using ``nets`` (e.g. the EMA copies) over ``self.nets``."""
        raise NotImplementedError

    def export_spec(self) -> dict[str, Any]:
        """What ``generator.json`` needs to sample without the recipe (latent law, ...)."""
        raise NotImplementedError

    # State that is not a network or an optimizer (Fisher multipliers, replay buffers).
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state but got {sorted(state)}")

    @property
    def device(self) -> torch.device:
        for net in self.nets.values():
            for p in net.parameters():
                return p.device
        return torch.device("cpu")
