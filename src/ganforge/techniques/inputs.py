"""Techniques that transform what the critic sees: registered in ``TECHNIQUES``.

A critic-input technique is an object with ``critic_input(x, step) -> x'`` that the
algorithm applies to every critic input, real and fake, in the critic's and the
generator's phases alike (so the generator is trained against the critic it actually
faces), before PacGAN packing and before the penalties see the inputs. Randomness comes
from torch's global generator, which every checkpoint saves: resuming stays exact.

One line in a recipe::

    techniques:
      - {name: instance-noise, std: 0.1, anneal_steps: 5000}
      - {name: diffaugment, policy: "color,translation,cutout"}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from ganforge.errors import ConfigError
from ganforge.registry import TECHNIQUES
from ganforge.techniques.base import Technique
from ganforge.techniques.diffaugment import diff_augment
from ganforge.techniques.noise import add_instance_noise, instance_noise_std


class CriticInputTechnique(Technique):
    """Base class: ``critic_input(x, step)`` and the failure the technique addresses."""

    def critic_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        raise NotImplementedError


@TECHNIQUES.register(
    "instance-noise",
    paper="Sønderby et al. 2016 (Amortised MAP inference); Arjovsky & Bottou 2017",
    summary="vanishing gradients / disjoint supports: Gaussian noise on critic inputs, annealed",
)
class InstanceNoise(CriticInputTechnique):
    """Gaussian noise added to real and fake critic inputs, annealed to 0.

    When the data and model distributions live on disjoint low-dimensional manifolds a
    perfect critic exists and its gradients vanish or explode (Arjovsky & Bottou 2017,
    Theorems 2.1-2.6); convolving both with the same noise makes their supports overlap,
    so the divergence is smooth and the critic's gradient informative. The noise is
    annealed to 0 so that the model converges to the data, not to its noisy version.

    Args:
        std: noise standard deviation at step 0 (data units: images are in [-1, 1]).
        anneal_steps: steps over which std decays to 0 (``schedule="linear"``).
        schedule: ``linear`` decay, or ``constant``.
    """

    targets = "vanishing gradients (disjoint supports)"

    def __init__(
        self,
        std: Annotated[float, Field(ge=0)] = 0.1,
        anneal_steps: Annotated[int, Field(ge=1)] = 10_000,
        schedule: Literal["linear", "constant"] = "linear",
    ) -> None:
        self.std, self.anneal_steps, self.schedule = std, anneal_steps, schedule

    def critic_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        return add_instance_noise(
            x, instance_noise_std(step, self.std, self.anneal_steps, self.schedule)
        )


@TECHNIQUES.register(
    "diffaugment",
    paper="Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN Training",
    summary="critic overfitting with little data: the same differentiable augmentations of real and fake",
)
class DiffAugment(CriticInputTechnique):
    """Differentiable augmentations (colour, translation, cutout) of every critic input.

    With little data the critic memorises the training images and its feedback to the
    generator degrades; augmenting only the reals would leak the augmentations into the
    samples. DiffAugment applies the same kind of differentiable augmentation to real
    and fake inputs in both players' steps, so the generator gets gradients through it.

    Args:
        policy: comma-separated subset of ``color``, ``translation``, ``cutout``.
    """

    targets = "critic overfitting (small datasets)"

    def __init__(self, policy: str = "color,translation,cutout") -> None:
        diff_augment(torch.zeros(1, 1, 8, 8), policy)  # validates the policy names now
        self.policy = policy

    def check_data(self, dataset: Any) -> None:
        """Refuse non-image data before training starts."""
        if dataset.kind != "images":
            raise ConfigError(
                f"diffaugment augments images; dataset {dataset.name!r} holds "
                f"{dataset.kind}. Remove it from techniques or train on images."
            )

    def critic_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        return diff_augment(x, self.policy)
