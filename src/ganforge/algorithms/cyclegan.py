r"""CycleGAN: unpaired translation held together by cycle consistency.

Zhu, Park, Isola & Efros 2017, Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks. Two generators G: A -> B and F: B -> A, two critics D_B (judges
B images) and D_A, and

    L(G, F, D_A, D_B) = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc(G, F),      (eq. 3)
    L_cyc = E_a[ |F(G(a)) - a|_1 ] + E_b[ |G(F(b)) - b|_1 ],  lambda = 10,      (eq. 2)

with the least-squares GAN objective (sec. 4: "we replace the negative log likelihood
objective by a least-squares loss"; set ``objective: lsgan``), each critic's loss halved
(sec. 7.1), and the critics trained on a pool of the 50 latest generated images rather
than the newest batch only (Shrivastava et al. 2017; :class:`ReplayBuffer`). The optional
identity loss (sec. 5.2, used for photo <-> painting) adds

    identity_weight * lambda * ( E_b[ |G(b) - b|_1 ] + E_a[ |F(a) - a|_1 ] ),

the paper's 0.5 lambda with ``identity_weight = 0.5`` (G must then map B to B, so A and B
need the same channels).

Steganography: the cycle can be satisfied by hiding the source in low-amplitude
patterns of the translation (Chu, Zhmoginov & Sandler 2017, CycleGAN, a Master of
Steganography), so a translation that drops content (e.g. draws another digit) still
reconstructs perfectly and the cycle loss stops teaching the generator. With
``cycle_noise = sigma > 0`` the cycle reads a noisy translation,
``|F(G(a) + e) - a|_1`` with e ~ N(0, sigma^2) per pixel (and likewise for b), which
drowns a hidden low-amplitude signal (Bashkirova, Usman & Saenko 2019, Adversarial
Self-Defense for Cycle-Consistent GANs, whose noise defence this is); the adversarial
terms still see the clean translations.

The batch is unpaired (``a`` and ``b``; ``real`` = ``b``); no loss couples a_i with b_i.
The generator phase runs first and keeps its fakes for the critics' phase of the same
step (no second generator pass), as the authors' implementation does.

DualGAN (:mod:`ganforge.algorithms.dualgan`) and DiscoGAN
(:mod:`ganforge.algorithms.discogan`) are the same game with other defaults; they
subclass :class:`CycleGAN`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
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
from ganforge.errors import ConfigError
from ganforge.nn.parallel import sharded
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS
from ganforge.techniques.feature_matching import feature_matching_loss
from ganforge.techniques.replay import ReplayBuffer


@ALGORITHMS.register(
    "cyclegan",
    paper="Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent "
    "Adversarial Networks",
)
class CycleGAN(Translation):
    """Unpaired translation A <-> B: generators ``g`` (A -> B), ``f`` (B -> A), critics
    ``d_b``, ``d_a``.

    Args:
        nets: ``g``: (N, Ca, H, W) -> (N, Cb, H, W); ``f``: the reverse; ``d_b`` and ``d_a``
            map images of B and A to CriticOutput (patch scores allowed).
        objective, penalties: the game (``lsgan`` in the paper) and critic regularisers
            (applied to both critics).
        cycle_weight: lambda of eq. 3 (10).
        cycle_loss: ``l1`` (CycleGAN, DualGAN) or ``mse`` (DiscoGAN).
        identity_weight: the identity loss as a multiple of ``cycle_weight`` (0 = off;
            the paper's photo <-> painting setting is 0.5).
        pool_size: past fakes kept per domain for the critics (50; 0 = newest only).
        d_scale: factor on each critic's loss (0.5 in the paper).
        feature_weight: weight of a feature-matching term between critic features of
            real and translated images (DiscoGAN's implementation; 0 = off).
        n_critic: critic steps per generator step.
        cycle_noise: std of the Gaussian noise added to the translations inside the cycle
            loss (0 = off; images in [-1, 1]); see the module docstring.
    """

    networks: ClassVar[dict[str, str]] = {
        "g": "generator",
        "f": "generator",
        "d_b": "critic",
        "d_a": "critic",
    }
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"g": ("g", "f"), "d": ("d_b", "d_a")}
    source_key: ClassVar[str] = "a"
    critics: ClassVar[tuple[str, ...]] = ("d_b", "d_a")

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        cycle_weight: Annotated[float, Field(ge=0)] = 10.0,
        cycle_loss: Literal["l1", "mse"] = "l1",
        identity_weight: Annotated[float, Field(ge=0)] = 0.0,
        pool_size: Annotated[int, Field(ge=0, le=100_000)] = 50,
        d_scale: Annotated[float, Field(gt=0)] = 0.5,
        feature_weight: Annotated[float, Field(ge=0)] = 0.0,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        cycle_noise: Annotated[float, Field(ge=0, le=10)] = 0.0,
    ) -> None:
        super().__init__(nets, objective, penalties, techniques)
        self.cycle_noise = cycle_noise
        self.cycle_weight, self.identity_weight = cycle_weight, identity_weight
        self.cycle_kind, self.cycle = cycle_loss, reconstruction(cycle_loss)
        self.d_scale, self.feature_weight, self.n_critic = d_scale, feature_weight, n_critic
        self.pools = (
            {"a": ReplayBuffer(pool_size, 0.5), "b": ReplayBuffer(pool_size, 0.5)}
            if pool_size > 0
            else {}
        )
        # Fakes of this step's generator phase, reused by the critics' phase.
        self._fakes: tuple[int, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        a = tuple(data.tensors[cls.source_key].shape[1:])
        b = tuple(data.shape)
        return {
            "g": {"in_channels": a[0], "out_channels": b[0], "in_shape": a},
            "f": {"in_channels": b[0], "out_channels": a[0], "in_shape": b},
            "d_b": {"in_channels": b[0], "in_shape": b},
            "d_a": {"in_channels": a[0], "in_shape": a},
        }

    def attach_data(self, dataset: Any) -> None:
        super().attach_data(dataset)
        a, b = dataset.tensors["a"].shape[1], dataset.tensors["real"].shape[1]
        if self.identity_weight > 0 and a != b:
            raise ConfigError(
                f"algorithm.identity_weight > 0 asks G: A -> B to leave B images unchanged, "
                f"which needs the same channels in both domains (A has {a}, B has {b}). "
                "Set identity_weight=0."
            )

    def phases(self) -> list[Phase]:
        # The generators first: the critics then train on the fakes they just made.
        return [Phase("g", "g", every=self.n_critic), Phase("d", "d")]

    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        """G(a): A -> B."""
        return (nets or self.nets)["g"](batch["a"])

    def panel(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> list[torch.Tensor]:
        """Columns a | G(a) | F(G(a)) | b | F(b) | G(F(b)), at B's channels."""
        nets = nets or self.nets
        batch = self.draw(n, generator)
        a, b = batch["a"], batch["real"]
        ga, fb = nets["g"](a), nets["f"](b)
        c = b.shape[1]
        cols = [a, ga, nets["f"](ga), b, fb, nets["g"](fb)]
        return [self._show(x, b) if x.shape[1] != c else x for x in cols]

    def generator_terms(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        fake_b: torch.Tensor,
        fake_a: torch.Tensor,
        logs: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """Adversarial terms of both generators against their critics (+ feature matching)."""
        adv_b = generator_adversarial(self.objective, self.nets["d_b"], fake_b, b)
        adv_a = generator_adversarial(self.objective, self.nets["d_a"], fake_a, a)
        logs["g/adv_b"], logs["g/adv_a"] = adv_b.detach(), adv_a.detach()
        loss = adv_b + adv_a
        if self.feature_weight > 0:
            fm = _feature_match(self.nets["d_b"], b, fake_b) + _feature_match(
                self.nets["d_a"], a, fake_a
            )
            logs["g/features"] = fm.detach()
            loss = loss + self.feature_weight * fm
        return loss

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        a, b = batch["a"], batch["real"]
        g, f = self.nets["g"], self.nets["f"]
        if phase == "g":
            fake_b, fake_a = g(a), f(b)
            self._fakes = (step, fake_b.detach(), fake_a.detach())
            logs: dict[str, torch.Tensor] = {}
            loss = self.generator_terms(a, b, fake_b, fake_a, logs)
            cyc = self.cycle(f(self._noisy(fake_b)), a) + self.cycle(g(self._noisy(fake_a)), b)
            logs["g/cycle"] = cyc.detach()
            loss = loss + self.cycle_weight * cyc
            if self.identity_weight > 0:
                idt = F.l1_loss(g(b), b) + F.l1_loss(f(a), a)
                logs["g/identity"] = idt.detach()
                loss = loss + self.identity_weight * self.cycle_weight * idt
            return LossOutput(loss, logs)
        if phase == "d":
            if self._fakes is not None and self._fakes[0] == step:
                fake_b, fake_a = self._fakes[1], self._fakes[2]
            else:  # a critic-only step (n_critic > 1): translate afresh
                with torch.no_grad():
                    fake_b, fake_a = g(a), f(b)
            self._fakes = None
            if self.pools:
                fake_b, fake_a = self.pools["b"](fake_b), self.pools["a"](fake_a)
            loss_b, rb, fb = critic_terms(
                self.objective, self.penalties, self.nets["d_b"], b, fake_b
            )
            loss_a, ra, fa = critic_terms(
                self.objective, self.penalties, self.nets["d_a"], a, fake_a
            )
            logs = {**score_logs(rb, fb, "d_b"), **score_logs(ra, fa, "d_a")}
            return LossOutput(self.d_scale * (loss_b + loss_a), logs)
        raise ValueError(f"unknown phase {phase!r}")

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        """x + e, e ~ N(0, cycle_noise^2) per element (sharded over data-parallel ranks);
        x itself when cycle_noise = 0."""
        if self.cycle_noise == 0:
            return x
        e = sharded(lambda s: torch.randn(s, device=x.device, dtype=x.dtype), tuple(x.shape))
        return x + self.cycle_noise * e

    # The image pools are training state: saved in checkpoints for an exact resume.
    def state_dict(self) -> dict[str, Any]:
        pools = {k: p.state_dict() for k, p in self.pools.items()}
        return {"pools": {k: v for k, v in pools.items() if v}} if any(pools.values()) else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unknown = set(state) - {"pools"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unexpected state {sorted(unknown)}")
        saved = state.get("pools", {})
        if saved and not self.pools:
            raise ValueError("checkpoint has image pools but this run has pool_size=0")
        for k, pool in self.pools.items():
            pool.load_state_dict(saved.get(k, {}))


def _feature_match(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016) on the critic's features, as DiscoGAN's
    implementation adds it; the real side is a constant."""
    feats_fake = d(fake).features
    if feats_fake is None:
        raise ConfigError("feature_weight > 0 needs a critic that returns features.")
    with torch.no_grad():
        feats_real = d(real).features
    return feature_matching_loss(feats_real, feats_fake)
