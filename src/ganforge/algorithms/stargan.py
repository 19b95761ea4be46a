r"""StarGAN: one generator for translations among many domains.

Choi, Choi, Kim, Ha, Kim & Choo 2018, StarGAN: Unified Generative Adversarial Networks
for Multi-Domain Image-to-Image Translation. One generator G(x, c) translates an image x
into any target domain c; one critic D has two heads, D_src (real or fake) and D_cls (a
distribution over domains). With c' the domain x comes from:

    L_adv     = E_x[log D_src(x)] + E_{x,c}[log(1 - D_src(G(x, c)))],          (eq. 1)
    L_cls^r   = E_{x,c'}[-log D_cls(c' | x)],                                   (eq. 2)
    L_cls^f   = E_{x,c}[-log D_cls(c | G(x, c))],                               (eq. 3)
    L_rec     = E_{x,c,c'}[ |x - G(G(x, c), c')|_1 ],                           (eq. 4)
    L_D = -L_adv + lambda_cls L_cls^r,                                          (eq. 5)
    L_G =  L_adv + lambda_cls L_cls^f + lambda_rec L_rec,                        (eq. 6)

with lambda_cls = 1, lambda_rec = 10. The paper trains with the Wasserstein objective
and a gradient penalty (sec. 4, "Improved GAN training": L_adv = E[D_src(x)]
- E[D_src(G(x, c))] - lambda_gp E[(|grad D_src(x^)|_2 - 1)^2], lambda_gp = 10, x^
sampled between real and fake) and n_critic = 5 critic
updates per generator update; which game is played is the objective's business (the
recipe sets ``objective: wgan`` with the ``gradient-penalty`` penalty, or ``wgan-gp``).
D_src may be a patch map (N, h, w) (the objectives average every element). D_cls is a
softmax over the K domains (one domain per image, as RaFD's expressions): datasets give
a domain index ``label``; CelebA's multi-attribute labels with one sigmoid per attribute
are not covered.

Target domains. The paper "randomly generate[s] the target domain label c"; the
authors' solver takes a shuffle of the batch's own labels (``label[randperm(N)]``), so
targets follow the batch's domain frequencies. Here ``targets="uniform"`` (default) draws
c uniformly from {0, ..., K-1}, independently of x: every domain is a target equally
often whatever the data's balance, and c = c' happens with probability 1/K (as it can
with the shuffle); ``targets="shuffle"`` reproduces the authors' code. Both draw from the
global RNG, which checkpoints save (exact resume).

Sampling: :meth:`StarGAN.translate` sends each image to ``batch["target_label"]`` when the
batch has one, else to the next domain, (label + 1) mod K. :meth:`StarGAN.sample` (the
samples of every metric) sends n drawn images to the domains of the same draw, permuted
with the sampling seed: the target domains then have the data's domain frequencies, so a
perfect translator's samples are distributed as the data (the reference set). The sample
grid shows input | G(x, 0) | ... | G(x, K-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import LossOutput, Phase
from ganforge.algorithms.translation import Translation, critic_terms, score_logs
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.nn.parallel import sharded
from ganforge.objectives.base import Objective, needs_samples
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def _labelled_error(name: str, what: str) -> ConfigError:
    return ConfigError(
        f"stargan translates images among domains: it needs an image dataset with a domain "
        f"index per image (`label`, int64, num_classes = number of domains, at least 2), "
        f"but {name!r} {what}. Use mnist-domains, or any labelled image set (its classes "
        "are then the domains)."
    )


@ALGORITHMS.register(
    "stargan",
    paper="Choi et al. 2018, StarGAN: Unified Generative Adversarial Networks for "
    "Multi-Domain Image-to-Image Translation",
)
class StarGAN(Translation):
    """Multi-domain translation: generator ``g`` (x, target domain) -> x', critic ``d`` with a
    domain-classification head.

    Args:
        nets: ``g`` maps images (N, C, H, W) and target domains (N,) int64 to (N, C, H, W)
            (``stargan-g``: ``g(x, y)``); ``d`` maps images (N, C, H, W) to
            CriticOutput(score (N,) or (N, h, w), aux (N, K) domain logits)
            (``stargan-d``).
        objective, penalties: the adversarial game (``wgan`` + ``gradient-penalty``, or
            ``wgan-gp``, in the paper) and critic regularisers.
        cls_weight: lambda_cls of eqs. 5-6 (1).
        rec_weight: lambda_rec of eq. 6 (10).
        n_critic: critic steps per generator step (5).
        targets: how training draws target domains: ``uniform`` over the K domains
            (default) or ``shuffle`` of the batch's labels (the authors' code).

    Batches: ``real`` (N, C, H, W) images of every domain, ``label`` (N,) their domains
    (the dataset's ``num_classes`` = K).
    """

    networks: ClassVar[dict[str, str]] = {"g": "generator", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "g": ("g",)}
    source_key: ClassVar[str] = "real"

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        cls_weight: Annotated[float, Field(ge=0)] = 1.0,
        rec_weight: Annotated[float, Field(ge=0)] = 10.0,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 5,
        targets: Literal["uniform", "shuffle"] = "uniform",
    ) -> None:
        super().__init__(nets, objective, penalties, techniques)
        self.cls_weight, self.rec_weight, self.n_critic = cls_weight, rec_weight, n_critic
        self.targets = targets
        self._num_domains: int | None = None

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        k = getattr(data, "num_classes", None)
        if getattr(data, "kind", None) != "images" or "label" not in data.tensors or not k:
            raise _labelled_error(data.name, f"has tensors {sorted(data.tensors)} and no domains")
        shape = tuple(data.shape)
        return {
            "g": {
                "in_channels": shape[0],
                "out_channels": shape[0],
                "num_domains": int(k),
                "in_shape": shape,
            },
            "d": {"in_channels": shape[0], "in_shape": shape, "num_domains": int(k)},
        }

    def attach_data(self, dataset: Any) -> None:
        """Keep the dataset (see :class:`Translation`); it must be labelled with K >= 2
        domains, and the networks built for K domains."""
        k = dataset.num_classes
        if dataset.kind != "images" or "label" not in dataset.tensors or k is None:
            raise _labelled_error(dataset.name, f"has tensors {sorted(dataset.tensors)}")
        if k < 2:
            raise _labelled_error(dataset.name, f"has {k} domain")
        super().attach_data(dataset)
        for key in ("g", "d"):
            net_k = getattr(self.nets[key], "num_domains", None)
            if net_k is not None and int(net_k) != int(k):
                raise ConfigError(
                    f"nets.{key} is built for num_domains={net_k} but {dataset.name!r} has "
                    f"{k} domains. Set nets.{key}.num_domains={k} in the recipe."
                )
        self._num_domains = int(k)

    @property
    def num_domains(self) -> int:
        """K: the dataset's number of domains (or the generator's ``num_domains`` before
        :meth:`attach_data`)."""
        k = self._num_domains or getattr(self.nets["g"], "num_domains", None)
        if not k:
            raise RuntimeError(
                "stargan does not know the number of domains yet: call attach_data(dataset) "
                "or use a generator with a num_domains attribute."
            )
        return int(k)

    def phases(self) -> list[Phase]:
        return [Phase("d", "d"), Phase("g", "g", every=self.n_critic)]

    def draw_targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Target domains c (N,) int64 for images of domains ``labels`` (N,): see ``targets``."""
        if self.targets == "shuffle":
            return labels[torch.randperm(len(labels), device=labels.device)]
        k, dev = self.num_domains, labels.device  # sharded over data-parallel ranks
        return sharded(lambda s: torch.randint(k, s, device=dev), tuple(labels.shape))

    @staticmethod
    def domain_logits(out: CriticOutput, k: int) -> torch.Tensor:
        """D_cls: the critic's ``aux`` logits (N, K), checked."""
        if out.aux is None:
            raise ConfigError(
                "stargan needs a critic with a domain-classification head (CriticOutput.aux, "
                "one logit per domain), e.g. stargan-d."
            )
        if out.aux.dim() != 2 or out.aux.shape[1] != k:
            raise ConfigError(
                f"stargan's critic must return aux logits (N, {k}), one per domain; got "
                f"{tuple(out.aux.shape)}. Set its num_domains to {k}."
            )
        return out.aux

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, d = self.nets["g"], self.nets["d"]
        x, c_org = batch["real"], batch["label"].long()
        k = self.num_domains
        c_trg = self.draw_targets(c_org)
        if phase == "d":
            with torch.no_grad():
                fake = g(x, c_trg)
            loss, out_real, out_fake = critic_terms(self.objective, self.penalties, d, x, fake)
            logits = self.domain_logits(out_real, k)
            cls = F.cross_entropy(logits, c_org)  # L_cls^r, eq. 2
            logs = {
                **score_logs(out_real, out_fake),
                "d/cls": cls.detach(),
                "d/acc": (logits.argmax(1) == c_org).float().mean().detach(),
            }
            return LossOutput(loss + self.cls_weight * cls, logs)
        if phase == "g":
            fake = g(x, c_trg)
            out_fake = d(fake)  # both heads from one pass
            out_real = d(x) if self.objective.needs_real_for_g else None
            kw = {"x_real": x, "x_fake": fake} if needs_samples(self.objective) else {}
            adv = self.objective.g_loss(out_fake, out_real, **kw)
            cls = F.cross_entropy(self.domain_logits(out_fake, k), c_trg)  # L_cls^f, eq. 3
            rec = F.l1_loss(g(fake, c_org), x)  # L_rec, eq. 4: mean |x - G(G(x, c), c')|
            loss = adv + self.cls_weight * cls + self.rec_weight * rec
            logs = {"g/adv": adv.detach(), "g/cls": cls.detach(), "g/rec": rec.detach()}
            return LossOutput(loss, logs)
        raise ValueError(f"unknown phase {phase!r}")

    # -- sampling -------------------------------------------------------------------------
    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        """G(x, c): ``batch["real"]`` (N, C, H, W) to ``batch["target_label"]`` (N,) when
        given, else to the next domain (label + 1) mod K."""
        x = batch["real"]
        target = batch.get("target_label")
        if target is None:
            target = (batch["label"].long() + 1) % self.num_domains
        return (nets or self.nets)["g"](x, target.long().to(x.device))

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> torch.Tensor:
        """n drawn images translated to the domains of the same draw, permuted with the
        seed of ``generator``: targets follow the data's domain frequencies. (n, C, H, W)."""
        batch = self.draw(n, generator)
        seed = 0 if generator is None else int(generator.initial_seed())
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        labels = batch["label"]
        batch["target_label"] = labels[perm.to(labels.device)]
        return self.translate(batch, nets)

    def panel(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> list[torch.Tensor]:
        """Columns input | G(x, 0) | ... | G(x, K-1), each (n, C, H, W)."""
        g = (nets or self.nets)["g"]
        x = self.draw(n, generator)["real"]
        cols = [x]
        for k in range(self.num_domains):
            cols.append(g(x, torch.full((n,), k, dtype=torch.long, device=x.device)))
        return cols

    def export_spec(self) -> dict[str, Any]:
        """The translate spec with ``domains`` = K: the exported generator takes
        ``translate(x, labels)`` with labels (N,) in 0..K-1."""
        spec = super().export_spec()
        spec["translate"]["domains"] = self.num_domains
        return spec
