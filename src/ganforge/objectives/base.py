"""The objective protocol: pure functions of critic outputs.

An objective never calls a network, an optimizer or ``backward()``. The registered
objects are thin wrappers over functions of tensors (``ganforge.objectives.<family>``),
so the math can be tested and reused without any class.

Two optional capabilities, declared by class attributes so the algorithm knows what to
pass:

- ``needs_samples``: the loss also depends on the samples themselves (loss-sensitive
  GAN's margin Delta(x, G(z))). The algorithm then passes ``x_real`` and ``x_fake``.
- ``stateful``: the objective carries a small state between steps (Fisher GAN's
  Lagrange multiplier). The algorithm owns the state (``initial_state()``), passes it as
  ``state=`` and, after the critic's optimizer step, replaces it with
  ``next_state(state, real, fake)``; the checkpoint saves it. The functions stay pure.

``implied_penalties(**kwargs)`` lets a name stand for an objective plus its regulariser
(``wgan-gp`` is ``wgan`` + ``gradient-penalty``): the config adds those penalties.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from ganforge.nets.base import CriticOutput

State = dict[str, torch.Tensor]


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


def needs_samples(term: Any) -> bool:
    """Does this objective or penalty want ``x_real``/``x_fake`` passed in?"""
    return bool(getattr(term, "needs_samples", False))


def is_stateful(term: Any) -> bool:
    """Does this objective or penalty carry state between steps?"""
    return bool(getattr(term, "stateful", False))


def implied_penalties(objective_cls: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Penalty specs an objective name stands for (``[]`` for most objectives)."""
    fn = getattr(objective_cls, "implied_penalties", None)
    return list(fn(**kwargs)) if fn is not None else []
