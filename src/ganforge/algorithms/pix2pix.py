r"""pix2pix: paired image-to-image translation with a conditional patch critic.

Isola, Zhu, Zhou & Efros 2017, Image-to-Image Translation with Conditional Adversarial
Networks. With x the source, y the target and G a U-Net whose dropout is the noise
source (the paper found an explicit z ignored), the critic judges pairs,

    L_cGAN(G, D) = E[log D(x, y)] + E[log(1 - D(x, G(x)))],      (eq. 1)
    L_L1(G)      = E[ |y - G(x)|_1 ],                            (eq. 3)
    G*           = arg min_G max_D L_cGAN + lambda L_L1,  lambda = 100,   (eq. 4)

with D a PatchGAN: a score per N x N patch, averaged (the objectives average every
element of a score map). Which game is played is the objective's business (``ns`` is
the paper's; ``lsgan`` and ``hinge`` work too). Sec. 3.3: "we divide the objective by
2 while optimizing D, which slows down the rate at which D learns relative to G" — the
``d_scale`` argument (0.5). ``conditional = False`` gives the paper's unconditional-
critic ablation (D sees y or G(x) alone); ``adv_weight = 0`` gives the L1-only U-Net
baseline of its Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import LossOutput, Phase
from ganforge.algorithms.translation import (
    Translation,
    critic_terms,
    generator_adversarial,
    reconstruction,
    score_logs,
)
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


@ALGORITHMS.register(
    "pix2pix",
    paper="Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks",
)
class Pix2Pix(Translation):
    """Paired translation source -> target: generator ``g``, (conditional) critic ``d``.

    Args:
        nets: ``g`` maps source (N, Cs, H, W) -> (N, Ct, H, W) (``unet-g``); ``d`` maps
            cat(source, target) (N, Cs + Ct, H, W) -> CriticOutput with patch scores
            (``patchgan-d``), or the target alone when ``conditional`` is False.
        objective, penalties: the adversarial game and critic regularisers.
        l1_weight: lambda of eq. 4 (100 in the paper).
        adv_weight: weight of the generator's adversarial term (1; 0 = L1-only baseline,
            the critic is then not trained).
        recon: ``l1`` (the paper) or ``mse``.
        conditional: the critic sees the source beside the image (the paper's cGAN).
        d_scale: factor on the critic's loss (0.5, sec. 3.3).
    """

    networks: ClassVar[dict[str, str]] = {"g": "generator", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "g": ("g",)}

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        l1_weight: Annotated[float, Field(ge=0)] = 100.0,
        adv_weight: Annotated[float, Field(ge=0)] = 1.0,
        recon: Literal["l1", "mse"] = "l1",
        conditional: bool = True,
        d_scale: Annotated[float, Field(gt=0)] = 0.5,
    ) -> None:
        super().__init__(nets, objective, penalties, techniques)
        self.l1_weight, self.adv_weight, self.d_scale = l1_weight, adv_weight, d_scale
        self.recon_kind, self.recon = recon, reconstruction(recon)
        self.conditional = conditional

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        src = tuple(data.tensors[cls.source_key].shape[1:])
        tgt = tuple(data.shape)
        conditional = bool(algo_kwargs.get("conditional", True))
        d_channels = tgt[0] + (src[0] if conditional else 0)
        return {
            "g": {"in_channels": src[0], "out_channels": tgt[0], "in_shape": src},
            "d": {"in_channels": d_channels, "in_shape": (d_channels, *tgt[1:])},
        }

    def phases(self) -> list[Phase]:
        if self.adv_weight == 0:  # the L1-only baseline: no critic to train
            return [Phase("g", "g")]
        return [Phase("d", "d"), Phase("g", "g")]

    def critic_input(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """What the critic sees: cat(source, image) along channels (conditional), else image."""
        return torch.cat([source, image], 1) if self.conditional else image

    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        return (nets or self.nets)["g"](batch["source"])

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, d = self.nets["g"], self.nets["d"]
        source, target = batch["source"], batch["real"]
        if phase == "d":
            fake = g(source).detach()
            loss, out_real, out_fake = critic_terms(
                self.objective,
                self.penalties,
                d,
                self.critic_input(source, target),
                self.critic_input(source, fake),
            )
            return LossOutput(self.d_scale * loss, score_logs(out_real, out_fake))
        if phase == "g":
            fake = g(source)
            rec = self.recon(fake, target)
            logs = {f"g/{self.recon_kind}": rec.detach()}
            loss = self.l1_weight * rec
            if self.adv_weight > 0:
                adv = generator_adversarial(
                    self.objective,
                    d,
                    self.critic_input(source, fake),
                    self.critic_input(source, target),
                )
                logs["g/adv"] = adv.detach()
                loss = loss + self.adv_weight * adv
            return LossOutput(loss, logs)
        raise ValueError(f"unknown phase {phase!r}")
