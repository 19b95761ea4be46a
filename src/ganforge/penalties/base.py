"""The penalty protocol: regularisers that call the critic.

A penalty is called as ``penalty(critic, x_real, x_fake, out_real=..., out_fake=...)``
in the critic's phase and returns a scalar loss term, already multiplied by its weight
(the gradient penalty's lambda is the penalty's own argument). It holds no hidden
state; a penalty that keeps a running value (Sobolev GAN's multiplier) declares
``stateful = True`` and follows the same state protocol as objectives
(``initial_state() -> dict[str, Tensor]``, ``state=`` passed to ``__call__``, and
``next_state(state, critic, x_real, x_fake, *, out_real, out_fake) -> dict`` computed in
the same phase and committed after the optimizer step), the algorithm owning the state.
Objectives use ``next_state(state, out_real, out_fake)``.

A penalty that constrains the weights instead of adding a loss (WGAN's weight clipping)
implements ``after_step(critic)``, which the algorithm calls right after the critic's
optimizer step; its ``__call__`` then returns zero.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from ganforge.nets.base import CriticOutput


@runtime_checkable
class Penalty(Protocol):
    """A critic regulariser."""

    #: the phase whose loss the term is added to ("d" for every penalty so far).
    phase: ClassVar[str]

    def __call__(
        self,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
        *,
        out_real: CriticOutput,
        out_fake: CriticOutput,
    ) -> torch.Tensor: ...
