r"""Conditional GAN: generator and critic both see the class label.

Mirza & Osindero 2014, Conditional Generative Adversarial Nets: G(z, y) and D(x, y), the
label embedded and concatenated (``condition: concat`` on the built-in networks); the
projection discriminator of Miyato & Koyama 2018 (cGANs with Projection Discriminator:
score = psi(h(x)) + <E[y], h(x)>, ``condition: projection``) and conditional batch norm
in the generator (``condition: cbn``) are network options. Any objective applies: the
game is played per class, min_G max_D E_{(x,y)~data} ... + E_{z, y} ...

Fake samples are generated with the labels of the real batch, so the real and fake
halves of every critic step have the same label distribution (the data's) and a
gradient penalty interpolates between a real and a fake sample of the same class.

**Matching-aware critic** (Reed et al. 2016, Generative Adversarial Text to Image
Synthesis, GAN-CLS; the applications survey, sec. 4.1): the critic is trained on three
kinds of pairs, {real x, matching y} as real, and {real x, mismatched y} and
{G(z, y), y} as fake, the two fake kinds weighted 1/2 each. Here the objective's critic
loss is applied to the real outputs and the concatenation [mismatched; fake] of the
fake outputs: for the original GAN that is exactly

    L_D = -E log D(x, y) - 1/2 E log(1 - D(x, y_hat)) - 1/2 E log(1 - D(G(z, y), y)).

A mismatched label is y_hat = (y + u) mod K with u uniform in 1..K-1: never the true one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.unconditional import Unconditional
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.nn.conditional import balanced_labels
from ganforge.nn.parallel import sharded
from ganforge.objectives.base import Objective, needs_samples
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def cat_outputs(a: CriticOutput, b: CriticOutput) -> CriticOutput:
    """Concatenate two critic outputs along the batch axis (fields that both have)."""

    def cat(x: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None or y is None else torch.cat([x, y])

    return CriticOutput(
        torch.cat([a.score, b.score]), cat(a.features, b.features), cat(a.aux, b.aux)
    )


def mismatched_labels(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N,) labels y_hat != y: (y + u) mod K with u ~ U{1..K-1} (global torch RNG,
    sharded over data-parallel ranks)."""
    u = sharded(lambda s: torch.randint(1, num_classes, s, device=y.device), tuple(y.shape))
    return (y + u) % num_classes


@ALGORITHMS.register("cgan", paper="Mirza & Osindero 2014, Conditional Generative Adversarial Nets")
class CGAN(Unconditional):
    """Class-conditional GAN: ``g(z, y)``, ``d(x, y)``, labels from the data.

    Args:
        nets: ``g`` maps (z (N, latent_dim), y (N,)) -> x; ``d`` maps (x, y) -> CriticOutput.
            Built-in networks get ``num_classes`` from the data.
        objective, penalties, techniques, latent_dim, n_critic: as for ``unconditional``.
        matching_aware: also train the critic on {real x, mismatched y} as fake
            (Reed et al. 2016, GAN-CLS), see the module docstring.
    """

    needs_labels = True

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 64,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        matching_aware: bool = False,
    ) -> None:
        super().__init__(
            nets,
            objective,
            penalties=penalties,
            techniques=techniques,
            latent_dim=latent_dim,
            n_critic=n_critic,
        )
        self.matching_aware = matching_aware
        if matching_aware and needs_samples(objective):
            raise ConfigError(
                "matching_aware scores real images with wrong labels as fakes, but this "
                "objective compares real and fake samples pairwise; use another objective."
            )
        self.num_classes = int(getattr(nets["g"], "num_classes", 0) or 0)
        if self.num_classes < 2:
            raise ConfigError(
                "cgan needs a conditional generator with num_classes >= 2 (the built-in "
                "networks get it from a labelled dataset, e.g. mnist)."
            )
        self._labels: torch.Tensor | None = None

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        if not data.num_classes:
            raise ConfigError(
                f"{cls.registered_name} needs class labels, but dataset {data.name!r} has "
                "none. Use a labelled dataset (mnist, fashion-mnist, cifar10, digits, ...)."
            )
        out = super().net_defaults(algo_kwargs, data)
        out["g"]["num_classes"] = data.num_classes
        out["d"]["num_classes"] = data.num_classes
        return out

    def generate(self, g: nn.Module, n: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """G(z, y) with y the real batch's labels."""
        return g(self.noise(n), batch["label"])

    def bind(
        self, d: Callable[..., CriticOutput], batch: dict[str, torch.Tensor]
    ) -> Callable[[torch.Tensor], CriticOutput]:
        y = batch["label"]
        self._labels = y
        return lambda x: d(x, y)

    def critic_objective(
        self,
        out_real: CriticOutput,
        out_fake: CriticOutput,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
    ) -> torch.Tensor:
        if self.matching_aware and self._labels is not None:
            y_hat = mismatched_labels(self._labels, self.num_classes)
            out_mismatch = self.nets["d"](real, y_hat)
            out_fake = cat_outputs(out_mismatch, out_fake)
        return super().critic_objective(out_real, out_fake, real, fake, step)

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> Any:
        if "label" not in batch:
            raise ValueError("cgan batches need 'label' (N,) class labels.")
        out = super().loss(phase, batch, step)
        self._labels = None
        return out

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """n samples; ``labels`` (n,) default to balanced blocks (one class per grid row)."""
        g = (nets or self.nets)["g"]
        y = balanced_labels(n, self.num_classes, self.device) if labels is None else labels
        return g(self.noise(n, generator), y.to(self.device))

    def export_spec(self) -> dict[str, Any]:
        return {**super().export_spec(), "labels": {"num_classes": self.num_classes}}
