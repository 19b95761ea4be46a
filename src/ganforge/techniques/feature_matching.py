r"""Feature matching: the generator matches the critic's mean features on real data.

Salimans et al. 2016, Improved Techniques for Training GANs, section 3.1. Instead of
maximising the critic's output, the generator minimises

    || E_{x~p_data} f(x) - E_{z~p_z} f(G(z)) ||_2^2,

where f is an intermediate layer of the critic (``CriticOutput.features``: the
penultimate activations of the built-in critics). The critic is trained as usual. The
generator no longer chases the critic's current decision boundary, which would make it
over-train on one region and collapse; it has to reproduce the data's feature
statistics instead. Used by the semi-supervised GAN of the same paper.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.registry import TECHNIQUES
from ganforge.techniques.base import Technique


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """|| mean(real_features) - mean(fake_features) ||_2^2 over the batch axis.

    Args:
        real_features: (N, F) critic features of real samples (treated as constants).
        fake_features: (M, F) critic features of generated samples.

    Returns:
        A scalar. Features of any trailing shape are flattened to F.
    """
    mu_real = real_features.detach().flatten(1).float().mean(0)
    mu_fake = fake_features.flatten(1).float().mean(0)
    return (mu_real - mu_fake).pow(2).sum()


@TECHNIQUES.register(
    "feature-matching",
    paper="Salimans et al. 2016, Improved Techniques for Training GANs (sec. 3.1)",
    summary="generator over-training on the current critic (collapse): match mean critic features",
)
class FeatureMatching(Technique):
    """The generator's loss becomes (or gains) the feature-matching term.

    Args:
        weight: factor of the feature-matching term.
        replace: True (the paper): the term replaces the objective's generator loss;
            False: it is added to it.
    """

    targets = "generator over-training on the current critic (mode collapse)"

    def __init__(self, weight: Annotated[float, Field(gt=0)] = 1.0, replace: bool = True) -> None:
        self.weight, self.replace = weight, replace

    def generator_loss(
        self, g_loss: torch.Tensor, out_real: CriticOutput, out_fake: CriticOutput
    ) -> torch.Tensor:
        """The generator's loss from the objective's ``g_loss`` and the critic outputs."""
        if out_real.features is None or out_fake.features is None:
            raise ValueError(
                "feature-matching needs CriticOutput.features; this critic returns none. "
                "Use a built-in critic (mlp-d, dcgan-d) or return features from yours."
            )
        term = self.weight * feature_matching_loss(out_real.features, out_fake.features)
        return term if self.replace else g_loss + term
