r"""SegAN: adversarial segmentation with a multi-scale L1 loss.

Xue, Xu, Zhang, Long & Huang 2018, SegAN: Adversarial Network with Multi-scale L1 Loss
for Medical Image Segmentation (Neuroinformatics 16). A segmentor S maps an image x
(N, C, H, W) to a mask of probabilities S(x) (N, 1, H, W) in [0, 1]; a critic C reads an
image masked by a mask and returns its features at every layer, f_C^i, i = 1..L (the
masked input itself included). With y the ground-truth mask and "o" the pixel-wise
product (the mask broadcast over the image's channels):

    min_S max_C L(S, C) = 1/N sum_n l_mae(f_C(x_n o S(x_n)), f_C(x_n o y_n)),    (eq. 1)
    l_mae(f_C(x), f_C(x')) = 1/L sum_{i=1}^{L} || f_C^i(x) - f_C^i(x') ||_1,       (eq. 2)

so S's loss is L and C's loss is -L (C looks for the features in which predicted and
true masks differ most; S closes that gap at every scale at once). Each ||.||_1 is a
mean over the layer's elements and the batch (:func:`multiscale_l1`, using the critic's
``feature_splits``; one block when it has none). The authors' code takes one mean over
the concatenated features (a layer then counts by its width; their critic multiplies
deeper layers by 2); per-layer means follow eq. 2 and keep the wide input layer from
drowning the deep ones. S and C alternate one step each (C first, as the authors' code
does), and the authors clip C's parameters to [-0.05, 0.05] after each of its steps:
``penalties: [{name: weight-clip, bound: 0.05}]``. ``dice_weight`` adds a soft Dice term
to S's loss (:func:`soft_dice`; off in the paper, common in practice).

The adversarial ``objective`` that the registry injects into every algorithm is not used:
SegAN's game is the multi-scale L1 loss itself. It is accepted (any name) and ignored.
Penalties that add a term on the critic's score (gradient penalties) are refused: the
score plays no part in the game; projections (``weight-clip``) apply.

Masks: a dataset stores y as uint8 0/255 images, which a batch holds in [-1, 1]; the loss
uses (y + 1) / 2 in [0, 1]. S outputs probabilities p; :meth:`SegAN.translate` and
:meth:`SegAN.sample` return 2p - 1 in [-1, 1], so that sample grids and metrics treat
predicted masks like the target images. The exported generator is S itself, whose raw
output is p in [0, 1]: the export spec says so (``output_range``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import LossOutput, Phase
from ganforge.algorithms.translation import Translation
from ganforge.errors import ConfigError
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def multiscale_l1(
    feats_a: torch.Tensor, feats_b: torch.Tensor, splits: Sequence[int] | None = None
) -> torch.Tensor:
    """l_mae of eq. 2: the mean over layers of each layer's mean absolute difference.

    Args:
        feats_a, feats_b: (N, F) the critic's features of two inputs (every layer's
            activations flattened and concatenated).
        splits: each layer's width (summing to F); None or empty: one block (the plain
            mean of |feats_a - feats_b|).

    Returns:
        1/L sum_i mean |a_i - b_i|, a scalar.
    """
    if feats_a.shape != feats_b.shape:
        raise ValueError(
            f"features to compare must have one shape, got {tuple(feats_a.shape)} and "
            f"{tuple(feats_b.shape)}"
        )
    diff = (feats_a - feats_b).abs().flatten(1)
    if not splits:
        return diff.mean()
    if sum(splits) != diff.shape[1]:
        raise ValueError(
            f"feature_splits {tuple(splits)} sum to {sum(splits)}, not to the feature width "
            f"{diff.shape[1]}"
        )
    return torch.stack([part.mean() for part in diff.split(list(splits), dim=1)]).mean()


def soft_dice(p: torch.Tensor, y: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Soft Dice loss (Milletari et al. 2016, V-Net): mean over samples and mask channels of
    1 - (2 sum p y + eps) / (sum p^2 + sum y^2 + eps), sums over pixels.

    Args:
        p: predicted probabilities (N, M, H, W) in [0, 1].
        y: true masks (N, M, H, W) in [0, 1].
    """
    inter = (p * y).sum((2, 3))
    denom = (p * p).sum((2, 3)) + (y * y).sum((2, 3))
    return (1 - (2 * inter + eps) / (denom + eps)).mean()


@ALGORITHMS.register(
    "segan",
    paper="Xue et al. 2018, SegAN: Adversarial Network with Multi-scale L1 Loss for Medical "
    "Image Segmentation",
)
class SegAN(Translation):
    """Segmentation image -> mask: segmentor ``s`` (role generator), critic ``c``.

    Args:
        nets: ``s`` maps images (N, C, H, W) to mask probabilities (N, 1, H, W) in [0, 1]
            (``segan-s``); ``c`` maps masked images (N, C, H, W) to CriticOutput with
            ``features`` (N, F), the flattened activations of its input and every layer,
            and an attribute ``feature_splits`` (each layer's width) (``segan-c``).
        objective: accepted and not used (see the module docstring).
        penalties: projections of the critic after its step (``weight-clip``, 0.05 in
            the authors' code); loss penalties are refused.
        dice_weight: factor on a soft Dice term in S's loss (0: the paper).
        n_critic: critic steps per segmentor step (1: the paper alternates).

    Batches: ``source`` (N, C, H, W) images, ``real`` = ``target`` (N, 1, H, W) masks in
    [-1, 1] (uint8 0/255 on disk).
    """

    networks: ClassVar[dict[str, str]] = {"s": "generator", "c": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"c": ("c",), "s": ("s",)}
    critics: ClassVar[tuple[str, ...]] = ("c",)
    critic_phase: ClassVar[str] = "c"
    source_key: ClassVar[str] = "source"

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        dice_weight: Annotated[float, Field(ge=0)] = 0.0,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
    ) -> None:
        losses = [type(p).__name__ for p in penalties if getattr(p, "after_step", None) is None]
        if losses:
            raise ConfigError(
                f"segan trains its critic on the multi-scale L1 loss of its features, not on "
                f"a score, so score penalties ({', '.join(losses)}) do not apply. Use "
                "weight-clip (the authors clip to 0.05) or no penalty."
            )
        # The objective plays no part: the base's refusal of stateful objectives (whose
        # multipliers would belong to a critic score) does not concern it.
        super().__init__(nets, None, penalties, techniques)  # type: ignore[arg-type]
        self.objective = objective
        self.dice_weight, self.n_critic = dice_weight, n_critic

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        if cls.source_key not in data.tensors:
            raise ConfigError(_needs_pairs(data))
        src, mask = tuple(data.tensors[cls.source_key].shape[1:]), tuple(data.shape)
        return {
            "s": {"in_channels": src[0], "out_channels": mask[0], "in_shape": src},
            "c": {"in_channels": src[0], "in_shape": src},
        }

    def attach_data(self, dataset: Any) -> None:
        """Keep the dataset (see :class:`Translation`): ``source`` images and one-channel
        ``real`` masks of the same size."""
        if self.source_key not in dataset.tensors:
            raise ConfigError(_needs_pairs(dataset))
        super().attach_data(dataset)
        src, mask = tuple(dataset.tensors["source"].shape[1:]), tuple(dataset.shape)
        if len(mask) != 3 or mask[0] != 1 or len(src) != 3 or src[1:] != mask[1:]:
            raise ConfigError(
                f"segan needs one-channel masks (N, 1, H, W) as `real` and images "
                f"(N, C, H, W) of the same size as `source`; {dataset.name!r} has masks "
                f"{mask} and images {src}. Use a segmentation set such as mnist-seg."
            )

    def phases(self) -> list[Phase]:
        return [Phase("c", "c"), Phase("s", "s", every=self.n_critic)]

    def features(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """f_C(x o mask): the critic's features (N, F) of the image masked pixel-wise.

        Args:
            image: x (N, C, H, W).
            mask: (N, 1, H, W) in [0, 1], broadcast over the channels.
        """
        feats = self.nets["c"](image * mask).features
        if feats is None:
            raise ConfigError(
                "segan needs a critic that returns its multi-scale features "
                "(CriticOutput.features), e.g. segan-c."
            )
        return feats

    @property
    def splits(self) -> tuple[int, ...] | None:
        """The critic's ``feature_splits`` (None: one block)."""
        splits = getattr(self.nets["c"], "feature_splits", None)
        return tuple(int(s) for s in splits) if splits else None

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        s = self.nets["s"]
        x, y = batch["source"], (batch["real"] + 1) / 2  # masks [-1, 1] -> [0, 1]
        if phase == "c":
            with torch.no_grad():
                p = s(x)
            l1 = multiscale_l1(self.features(x, p), self.features(x, y), self.splits)
            return LossOutput(-l1, {"c/l1": l1.detach()})  # C maximises eq. 1
        if phase == "s":
            p = s(x)
            with torch.no_grad():  # the true side does not depend on S
                target = self.features(x, y)
            l1 = multiscale_l1(self.features(x, p), target, self.splits)
            logs = {"s/l1": l1.detach()}
            loss = l1
            if self.dice_weight > 0:
                dice = soft_dice(p, y)
                logs["s/dice"] = dice.detach()
                loss = loss + self.dice_weight * dice
            return LossOutput(loss, logs)
        raise ValueError(f"unknown phase {phase!r}")

    # -- sampling -------------------------------------------------------------------------
    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        """The predicted mask as an image: 2 S(x) - 1, (N, 1, H, W) in [-1, 1]."""
        return 2 * (nets or self.nets)["s"](batch["source"]) - 1

    def panel(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> list[torch.Tensor]:
        """Columns image | predicted mask | true mask, each (n, C', H, W) with C' = 3 for
        RGB images, else 1 (other channel counts show their first channel)."""
        batch = self.draw(n, generator)
        x = batch["source"]
        c = 3 if x.shape[1] == 3 else 1
        cols = [x if x.shape[1] == c else x[:, :1], self.translate(batch, nets), batch["real"]]
        return [col.expand(-1, c, -1, -1) if col.shape[1] != c else col for col in cols]

    def export_spec(self) -> dict[str, Any]:
        """The translate spec; ``output_range`` [0, 1]: the exported S returns
        probabilities (2p - 1 gives the mask as an image in [-1, 1])."""
        spec = super().export_spec()
        spec["translate"]["output_range"] = [0.0, 1.0]
        return spec


def _needs_pairs(data: Any) -> str:
    return (
        f"segan needs a segmentation dataset with `source` images and `real` masks, but "
        f"{data.name!r} has {sorted(data.tensors)}. Use mnist-seg."
    )
