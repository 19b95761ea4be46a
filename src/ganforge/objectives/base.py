"""The objective protocol: pure functions of critic outputs.

An objective never calls a network, an optimizer or ``backward()``. The registered
objects are thin wrappers over functions of tensors (``ganforge.objectives.<family>``),
so the math can be tested and reused without any class.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch

from ganforge.nets.base import CriticOutput


@runtime_checkable
class Objective(Protocol):
    """An adversarial objective.

    ``d_loss`` is minimised by the critic, ``g_loss`` by the generator. Both return a
    scalar tensor. ``real`` and ``fake`` are the critic's outputs on a batch of real and
    generated samples.
    """

    #: True when ``g_loss`` needs the critic's output on real data (relativistic losses).
    needs_real_for_g: ClassVar[bool]

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor: ...

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor: ...
