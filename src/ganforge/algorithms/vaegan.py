r"""VAE-GAN: a VAE whose reconstruction error is measured in the critic's feature space.

Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric. An
encoder gives q(z|x) = N(mu(x), diag sigma(x)^2); the generator is the VAE's decoder;
the critic D both plays the GAN game and supplies the features Dis_l(x)
(``CriticOutput.features``) in which the reconstruction x~ = G(z), z ~ q(z|x), is
compared with x. With

    L_prior = KL(q(z|x) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2),
    L_llike = 1/2 || Dis_l(x) - Dis_l(x~) ||^2     (a Gaussian likelihood in feature space),
    L_GAN   = the objective's critic loss with real x and, as fakes, both the
              reconstructions x~ and prior samples x_p = G(z_p), z_p ~ N(0, I),

the three networks follow Larsen et al.'s Algorithm 1, each with its own optimizer and
phase: the encoder minimises L_prior + L_llike, the decoder gamma * L_llike plus the
objective's generator loss on [x~; x_p], and the critic L_GAN. (Each phase recomputes
its forward passes, so every network gets exactly its own gradient.)

The encoder outputs 2 d_z numbers, [mu, log sigma^2] (``mlp-e`` with latent_dim filled
as 2 d_z).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import LossOutput, Phase
from ganforge.algorithms.cgan import cat_outputs
from ganforge.algorithms.unconditional import Unconditional
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)), summed over dimensions, mean over the batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()


def feature_reconstruction(real: CriticOutput, recon: CriticOutput) -> torch.Tensor:
    """1/2 ||Dis_l(x) - Dis_l(x~)||^2 per sample, mean over the batch (Larsen et al. eq. 8)."""
    if real.features is None or recon.features is None:
        raise ValueError(
            "vaegan compares samples in the critic's feature space: the critic must return "
            "CriticOutput.features (the built-in critics do)."
        )
    diff = real.features.flatten(1) - recon.features.flatten(1)
    return 0.5 * diff.pow(2).sum(1).mean()


@ALGORITHMS.register(
    "vaegan",
    paper="Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric",
)
class VAEGAN(Unconditional):
    """Encoder ``e``, decoder/generator ``g`` and critic ``d``, three phases.

    Args:
        nets: ``e`` maps x -> (N, 2 latent_dim) = [mu, log sigma^2]; ``g`` maps z -> x;
            ``d`` maps x -> CriticOutput with ``features``.
        objective, penalties, techniques, latent_dim: as for ``unconditional``.
        gamma: weight of L_llike in the decoder's loss (reconstruction vs fooling D).
    """

    networks: ClassVar[dict[str, str]] = {"e": "encoder", "g": "generator", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "e": ("e",), "g": ("g",)}

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 64,
        gamma: Annotated[float, Field(ge=0)] = 1.0,
    ) -> None:
        super().__init__(
            nets, objective, penalties=penalties, techniques=techniques, latent_dim=latent_dim
        )
        self.gamma = gamma
        if any(self.hooks[h] for h in ("critic_input", "replay", "generator_loss")):
            raise ConfigError(
                "vaegan supports techniques on targets and parameters only (its critic "
                "features are compared directly)."
            )

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        out = super().net_defaults(algo_kwargs, data)
        latent = int(algo_kwargs.get("latent_dim", 64))
        out["e"] = {"in_shape": tuple(data.shape), "latent_dim": 2 * latent}
        return out

    def phases(self) -> list[Phase]:
        return [Phase("d", "d"), Phase("e", "e"), Phase("g", "g")]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of q(z|x), each (N, latent_dim)."""
        mu, logvar = self.nets["e"](x).chunk(2, dim=1)
        return mu, logvar

    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x~ = G(mu + sigma eps) with the reparameterisation; returns (x~, mu, logvar)."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.nets["g"](z), mu, logvar

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, d = self.nets["g"], self.nets["d"]
        x = batch["real"]
        n = x.shape[0]
        if phase == "d":
            with torch.no_grad():
                recon, _, _ = self.reconstruct(x)
            fakes = torch.cat([recon, g(self.noise(n)).detach()])
            # each real sample twice, so real and fake batches pair up (gradient penalties
            # interpolate pairs); the real expectation is unchanged
            reals = torch.cat([x, x])
            loss, logs = self.critic_loss(d, reals, fakes, step, commit=True)
            return LossOutput(loss + self._parameter_terms("d", logs), logs)
        recon, mu, logvar = self.reconstruct(x)
        out_real, out_recon = d(x), d(recon)
        llike = feature_reconstruction(out_real, out_recon)
        logs: dict[str, torch.Tensor] = {"vae/llike": llike.detach()}
        if phase == "e":
            kl = gaussian_kl(mu, logvar)
            logs["vae/kl"] = kl.detach()
            return LossOutput(kl + llike + self._parameter_terms("e", logs), logs)
        if phase == "g":
            prior = g(self.noise(n))
            out_fake = cat_outputs(out_recon, d(prior))
            out_reals = cat_outputs(out_real, out_real)
            given = out_reals if self.objective.needs_real_for_g else None
            reals, fakes = torch.cat([x, x]), torch.cat([recon, prior])
            adv = self._term("objective", "g_loss", out_fake, given, reals, fakes)
            return LossOutput(self.gamma * llike + adv + self._parameter_terms("g", logs), logs)
        raise ValueError(f"unknown phase {phase!r}")
