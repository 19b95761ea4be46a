r"""Semi-supervised GAN with a K+1-class critic (Salimans et al. 2016, sec. 5).

Improved Techniques for Training GANs, section 5 ("Semi-supervised learning"). The critic
is a K-class classifier with logits l_1..l_K (``CriticOutput.aux``); generated samples
form an implicit class K+1 whose logit is fixed at 0. Then

    p(real | x) = Z(x) / (Z(x) + 1),   Z(x) = sum_k exp(l_k(x)),

i.e. the real/fake logit is log Z(x) = logsumexp_k l_k(x), and the critic loss is

    L = L_supervised + L_unsupervised,
    L_supervised   = -E_{(x, y) ~ labelled} log p(y | x, y < K+1) = CE(l(x), y),
    L_unsupervised = the objective's critic loss on the logit log Z (for ``ns``/``minimax``:
                     -E log D(x) - E log(1 - D(G(z))), Salimans et al.'s formula).

Only ``labels`` training examples keep their labels (a balanced subset: labels / K per
class, fixed by ``label_seed``); the labelled minibatch of each critic step is drawn
from it. The paper trains the generator by feature matching: list ``feature-matching``
in the recipe's techniques. The classifier is the critic's ``aux`` head: its test
accuracy is the model's score (``benchmarks/conditional.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganforge.algorithms.unconditional import Unconditional
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def kplus1(out: CriticOutput) -> CriticOutput:
    """The K+1 critic's real/fake logit log Z = logsumexp(aux) as ``score``."""
    if out.aux is None:
        raise ValueError("ssgan-kplus1 needs class logits in CriticOutput.aux (aux_dim = K).")
    return CriticOutput(torch.logsumexp(out.aux.float(), dim=1), out.features, out.aux)


def balanced_subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n examples, n / K of each class (K = number of classes present),
    drawn with a private generator seeded ``seed``: (n,) int64."""
    classes = torch.unique(labels)
    k = len(classes)
    if n % k:
        raise ConfigError(f"labels={n} must be a multiple of the {k} classes.")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in classes.tolist():
        idx = torch.nonzero(labels.cpu() == c).flatten()
        if len(idx) < n // k:
            raise ConfigError(f"class {c} has only {len(idx)} examples, {n // k} asked for.")
        picks.append(idx[torch.randperm(len(idx), generator=g)[: n // k]])
    return torch.cat(picks)


@ALGORITHMS.register(
    "ssgan-kplus1", paper="Salimans et al. 2016, Improved Techniques for Training GANs (sec. 5)"
)
class SSGANKPlus1(Unconditional):
    """Semi-supervised GAN: K-class critic + implicit fake class, few labels.

    Args:
        nets: ``g`` maps z -> x; ``d`` maps x -> CriticOutput with ``aux`` (N, K).
        objective: the unsupervised game on the logit log Z (``ns`` as in the paper).
        penalties, techniques, latent_dim, n_critic: as for ``unconditional``.
        labels: how many training examples keep their label (100 on MNIST in the paper).
        labelled_batch: labelled examples per critic step.
        supervised_weight: weight of L_supervised.
        label_seed: seed of the labelled subset (the paper averages over 10 draws).
    """

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 100,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        labels: Annotated[int, Field(ge=1)] = 100,
        labelled_batch: Annotated[int, Field(ge=1, le=100_000)] = 100,
        supervised_weight: Annotated[float, Field(gt=0)] = 1.0,
        label_seed: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        super().__init__(
            nets, objective, penalties=penalties, techniques=techniques,
            latent_dim=latent_dim, n_critic=n_critic,
        )  # fmt: skip
        self.n_labels, self.labelled_batch = labels, labelled_batch
        self.supervised_weight, self.label_seed = supervised_weight, label_seed
        self.x_labelled: torch.Tensor | None = None
        self.y_labelled: torch.Tensor | None = None

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        if not data.num_classes:
            raise ConfigError(
                f"ssgan-kplus1 needs a labelled dataset (its labels are kept for "
                f"`labels` examples); {data.name!r} has no labels."
            )
        out = super().net_defaults(algo_kwargs, data)
        out["d"]["aux_dim"] = data.num_classes
        return out

    def attach_data(self, dataset: Any) -> None:
        """Keep the labelled subset (on the training device)."""
        idx = balanced_subset(dataset.tensors["label"], self.n_labels, self.label_seed)
        batch = dataset.batch(idx.to(dataset.tensors["label"].device))  # float, in [-1, 1]
        self.x_labelled, self.y_labelled = batch["real"], batch["label"]

    def bind(
        self, d: Callable[..., CriticOutput], batch: dict[str, torch.Tensor]
    ) -> Callable[[torch.Tensor], CriticOutput]:
        return lambda x: kplus1(d(x))

    def supervised_loss(self) -> torch.Tensor:
        """CE of the critic's class logits on a labelled minibatch (drawn with replacement)."""
        if self.x_labelled is None or self.y_labelled is None:
            raise RuntimeError("ssgan-kplus1: attach_data(dataset) was not called.")
        i = torch.randint(len(self.x_labelled), (self.labelled_batch,))
        i = i.to(self.x_labelled.device)
        out = self.nets["d"](self.x_labelled[i])
        return F.cross_entropy(kplus1(out).aux.float(), self.y_labelled[i])

    def critic_objective(
        self,
        out_real: CriticOutput,
        out_fake: CriticOutput,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
    ) -> torch.Tensor:
        unsupervised = super().critic_objective(out_real, out_fake, real, fake, step)
        return unsupervised + self.supervised_weight * self.supervised_loss()

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted classes of x (N, *shape) by the critic's K logits: (N,)."""
        return kplus1(self.nets["d"](x)).aux.argmax(dim=1)
