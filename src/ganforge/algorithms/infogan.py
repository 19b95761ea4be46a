r"""InfoGAN: interpretable latent codes by maximising their mutual information with G's output.

Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets. The generator's input is noise z plus a code c: a
categorical c_cat ~ Cat(K) (one-hot) and continuous c_j ~ U(-1, 1). An auxiliary head Q
on the critic's trunk (``CriticOutput.aux``, the critics' ``aux_dim`` option) predicts
the code from a sample, and both G and Q minimise the variational bound (eq. 4-5)

    L_I = E[ -log Q(c_cat | G(z, c)) ] + E[ -sum_j log N(c_j; mu_j, sigma_j^2) ]
        = -(lower bound on I(c; G(z, c))) + H(c),

H(c) being a constant. The critic's head is trained on it in the critic's step (on the
detached fakes), the generator in its own step, with weights ``cat_weight`` (the
paper's lambda = 1 for discrete codes) and ``cont_weight`` (smaller for continuous
codes, as the paper advises, so the term stays on the scale of the GAN loss).

Q's output layout, ``aux`` of width K + 2 C: K categorical logits, C means, C log
standard deviations (a factored Gaussian, as in the paper). With ``learn_std=False`` Q
outputs K logits and C means (width K + C) and the standard deviations are fixed at 1,
as in the authors' MNIST code (``fix_std=True``): the NLL is then (c_j - mu_j)^2 / 2 +
const, whose gradient stays on the scale of the GAN loss; with a learned sigma the
gradient (c_j - mu_j) / sigma_j^2 grows as sigma shrinks, and the continuous codes can
take over the digit identity that the categorical code should carry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganforge.algorithms.unconditional import Unconditional
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.nn.conditional import draw_codes, uniform_noise, with_codes
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS

LOG_2PI = math.log(2 * math.pi)


def info_loss(
    aux: torch.Tensor | None,
    c_cat: torch.Tensor,
    c_cont: torch.Tensor,
    cat_weight: float = 1.0,
    cont_weight: float = 0.1,
    learn_std: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two parts of L_I: categorical cross-entropy and Gaussian negative log-likelihood.

    Args:
        aux: (N, K + 2C) Q-head output: K logits, C means, C log standard deviations;
            (N, K + C) with ``learn_std=False`` (no log standard deviations: all 0).
        c_cat: (N,) int64 categorical codes in 0..K-1 (K = 0: none).
        c_cont: (N, C) continuous codes.
        learn_std: whether ``aux`` carries the log standard deviations.

    Returns:
        (cat_weight * CE, cont_weight * NLL), each a scalar; NLL is
        mean over samples of sum_j [ (c_j - mu_j)^2 / (2 sigma_j^2) + log sigma_j + log(2 pi)/2 ].
    """
    if aux is None:
        raise ValueError("infogan needs the Q head in CriticOutput.aux (the critic's aux_dim).")
    n_cont = c_cont.shape[1]
    k = aux.shape[1] - (2 if learn_std else 1) * n_cont
    aux = aux.float()
    zero = aux.new_zeros(())
    cat = cat_weight * F.cross_entropy(aux[:, :k], c_cat) if k > 0 else zero
    if n_cont == 0:
        return cat, zero
    mu = aux[:, k : k + n_cont]
    log_std = aux[:, k + n_cont :] if learn_std else torch.zeros_like(mu)
    nll = ((c_cont - mu) ** 2 / (2 * torch.exp(2 * log_std)) + log_std + 0.5 * LOG_2PI).sum(1)
    return cat, cont_weight * nll.mean()


@ALGORITHMS.register(
    "infogan",
    paper="Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information "
    "Maximizing GANs",
)
class InfoGAN(Unconditional):
    """Unconditional GAN whose generator input carries codes recovered by a Q head.

    Args:
        nets: ``g`` maps (N, noise_dim + K + C) -> x; ``d`` maps x -> CriticOutput with
            ``aux`` (N, K + 2C) (built-in networks get ``aux_dim`` and ``latent_dim``).
        objective, penalties, techniques, n_critic: as for ``unconditional``.
        latent_dim: noise dimension (the paper's MNIST model: 62).
        categorical: K, classes of the categorical code (10 on MNIST; 0 = none).
        continuous: C, number of continuous codes U(-1, 1) (2 on MNIST).
        cat_weight, cont_weight: the weights of the two parts of L_I.
        learn_std: Q predicts the continuous codes' standard deviations too (True);
            False fixes them at 1 (the authors' MNIST setting), see the module docstring.
        noise: the distribution of the noise z: ``normal`` N(0, I) or ``uniform``
            U(-1, 1) per component (the authors' MNIST code draws its 62 noise variables
            uniformly, like the continuous codes).
    """

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 62,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        categorical: Annotated[int, Field(ge=0, le=1000)] = 10,
        continuous: Annotated[int, Field(ge=0, le=100)] = 2,
        cat_weight: Annotated[float, Field(ge=0)] = 1.0,
        cont_weight: Annotated[float, Field(ge=0)] = 0.1,
        learn_std: bool = True,
        noise: Literal["normal", "uniform"] = "normal",
    ) -> None:
        if categorical == 1 or categorical + continuous == 0:
            raise ConfigError(
                "infogan needs a code: categorical >= 2 classes and/or continuous >= 1."
            )
        super().__init__(
            nets, objective, penalties=penalties, techniques=techniques, latent_dim=latent_dim,
            n_critic=n_critic,
        )  # fmt: skip
        self.categorical, self.continuous = categorical, continuous
        self.cat_weight, self.cont_weight = cat_weight, cont_weight
        self.learn_std = learn_std
        self.noise_distribution = noise
        want = categorical + (2 if learn_std else 1) * continuous
        aux = getattr(nets["d"], "aux_dim", None)
        if aux is not None and int(aux) != want:
            raise ConfigError(
                f"infogan's Q head must output {want} values (aux_dim: {categorical} logits, "
                f"{continuous} means{'' if not learn_std else f', {continuous} log stds'}), "
                f"got aux_dim={aux}."
            )
        if self.hooks["replay"]:
            raise ConfigError("infogan cannot replay old fakes: their codes are not kept.")
        self._codes: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        out = super().net_defaults(algo_kwargs, data)
        k = int(algo_kwargs.get("categorical", 10))
        c = int(algo_kwargs.get("continuous", 2))
        out["g"]["latent_dim"] = int(algo_kwargs.get("latent_dim", 62)) + k + c
        out["d"]["aux_dim"] = k + (2 if algo_kwargs.get("learn_std", True) else 1) * c
        return out

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z (n, latent_dim): N(0, I), or U(-1, 1) with ``noise="uniform"``."""
        if self.noise_distribution == "normal":
            return super().noise(n, generator)
        return uniform_noise((n, self.latent_dim), self.device, generator)

    # -- codes -----------------------------------------------------------------------------
    def codes(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """c_cat (n,) uniform over K classes and c_cont (n, C) ~ U(-1, 1)."""
        return draw_codes(n, self.categorical, self.continuous, self.device, generator)

    def generator_input(
        self, z: torch.Tensor, c_cat: torch.Tensor, c_cont: torch.Tensor
    ) -> torch.Tensor:
        """[z, one_hot(c_cat), c_cont]: (N, latent_dim + K + C)."""
        return with_codes(z, c_cat, c_cont, self.categorical)

    def generate(self, g: nn.Module, n: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        z = self.noise(n)
        self._codes = self.codes(n)
        return g(self.generator_input(z, *self._codes))

    # -- losses ----------------------------------------------------------------------------
    def _info(self, aux: torch.Tensor | None, logs: dict[str, Any] | None) -> torch.Tensor:
        assert self._codes is not None  # set by generate() in this step
        cat, cont = info_loss(
            aux, *self._codes, self.cat_weight, self.cont_weight, learn_std=self.learn_std
        )
        if logs is not None:
            logs["info/cat"], logs["info/cont"] = cat.detach(), cont.detach()
        return cat + cont

    def critic_objective(
        self,
        out_real: CriticOutput,
        out_fake: CriticOutput,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
    ) -> torch.Tensor:
        loss = super().critic_objective(out_real, out_fake, real, fake, step)
        return loss + self._info(out_fake.aux, None)  # trains the Q head

    def generator_extra(
        self, out_fake: CriticOutput, batch: dict[str, torch.Tensor], logs: dict[str, Any]
    ) -> torch.Tensor:
        return self._info(out_fake.aux, logs)  # trains G to make its codes recoverable

    # -- sampling --------------------------------------------------------------------------
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> torch.Tensor:
        g = (nets or self.nets)["g"]
        z = self.noise(n, generator)
        return g(self.generator_input(z, *self.codes(n, generator)))

    def export_spec(self) -> dict[str, Any]:
        return {
            "latent": {"distribution": self.noise_distribution, "dim": self.latent_dim},
            "codes": {"categorical": self.categorical, "continuous": self.continuous},
        }
