r"""What every image-conditioned GAN shares: pairs of images in, translated images out.

The translation families (pix2pix, CycleGAN and its variants, StarGAN, SRGAN, SegAN)
each have their own file; this module holds the parts they would otherwise repeat:

- :func:`reconstruction` — the per-pixel distances of their losses (L1, MSE);
- :func:`critic_terms` — an objective's critic loss plus the critic penalties for one
  critic (several critics per algorithm: CycleGAN has two);
- :class:`Translation` — the base class: the source images kept from the dataset for
  sample grids and metrics (``sample(n)`` = translations of n seeded sources), the
  three-column panels (input | output | target) of the sample grids, the exported
  ``translate`` spec, and the checks that refuse stateful objectives.

Conventions (DESIGN.md, "Data"): images are float NCHW in [-1, 1]; a paired batch has
``source`` and ``target`` (``real`` = ``target``: the images the generator must
produce, the reference of every metric), an unpaired batch ``a`` and ``b`` (``real`` =
``b``), a super-resolution batch ``low`` and ``high`` (``real`` = ``high``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.algorithms.base import Algorithm
from ganforge.data.base import uint8_to_float
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.objectives.base import Objective, is_stateful, needs_samples
from ganforge.penalties.base import Penalty

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def reconstruction(kind: str) -> Distance:
    """The per-pixel distance ``kind``: ``l1`` = mean |x - y|, ``mse`` = mean (x - y)^2.

    Both are means over every element (N, C, H, W), as the papers' implementations
    compute them (pix2pix's lambda = 100 and CycleGAN's lambda = 10 are on this scale).
    """
    if kind == "l1":
        return F.l1_loss
    if kind == "mse":
        return F.mse_loss
    raise ConfigError(f"reconstruction loss must be 'l1' or 'mse', got {kind!r}.")


def critic_terms(
    objective: Objective,
    penalties: Sequence[Penalty],
    critic: Callable[[torch.Tensor], CriticOutput],
    real: torch.Tensor,
    fake: torch.Tensor,
) -> tuple[torch.Tensor, CriticOutput, CriticOutput]:
    """One critic's loss: ``objective.d_loss`` + every penalty, on critic inputs.

    Args:
        critic: the critic as a function of its input (a conditional critic with the
            source already bound, e.g. ``lambda x: d(cat(source, x))``).
        real, fake: critic inputs (N, C, H, W); ``fake`` detached by the caller.

    Returns:
        (loss, out_real, out_fake); scores may be patch maps (N, h, w): the objectives
        average over every element.
    """
    out_real, out_fake = critic(real), critic(fake)
    kw = {"x_real": real, "x_fake": fake} if needs_samples(objective) else {}
    loss = objective.d_loss(out_real, out_fake, **kw)
    for pen in penalties:
        loss = loss + pen(critic, real, fake, out_real=out_real, out_fake=out_fake)
    return loss, out_real, out_fake


def generator_adversarial(
    objective: Objective,
    critic: Callable[[torch.Tensor], CriticOutput],
    fake: torch.Tensor,
    real: torch.Tensor | None,
) -> torch.Tensor:
    """The generator's adversarial term against one critic (``real`` is evaluated only
    for objectives whose generator loss reads it, e.g. relativistic ones)."""
    out_fake = critic(fake)
    out_real = critic(real) if objective.needs_real_for_g and real is not None else None
    kw = {"x_real": real, "x_fake": fake} if needs_samples(objective) else {}
    return objective.g_loss(out_fake, out_real, **kw)


def score_logs(
    out_real: CriticOutput, out_fake: CriticOutput, prefix: str = "d"
) -> dict[str, torch.Tensor]:
    """Mean critic scores on real and fake inputs, for the training log."""
    return {
        f"{prefix}/real": out_real.score.mean().detach(),
        f"{prefix}/fake": out_fake.score.mean().detach(),
    }


def as_rgb(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, 1, H, W) -> (N, channels, H, W) by repetition (for side-by-side panels)."""
    return x.expand(-1, channels, -1, -1) if x.shape[1] == 1 and channels == 3 else x


class Translation(Algorithm):
    """Base class of the image-conditioned GANs.

    Subclasses set ``source_key`` (the batch key of the generator's input) and implement
    :meth:`translate` (the generator applied to a batch), ``phases`` and ``loss``.

    Args:
        nets: the networks the subclass declares.
        objective: the adversarial objective; stateful objectives (Fisher, Sobolev) are
            refused, their multipliers are defined for a single critic.
        penalties: critic regularisers, applied to every critic.
    """

    source_key: ClassVar[str] = "source"
    #: the critics' network keys (penalties' ``after_step`` projections apply to each)
    #: and the phase that steps them.
    critics: ClassVar[tuple[str, ...]] = ("d",)
    critic_phase: ClassVar[str] = "d"

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
    ) -> None:
        super().__init__(nets)
        name = getattr(self, "registered_name", type(self).__name__)
        if is_stateful(objective) or any(is_stateful(p) for p in penalties):
            raise ConfigError(
                f"{name} does not support stateful objectives or penalties (Fisher, "
                "Sobolev): their multipliers belong to a single critic. Use ns, lsgan, "
                "wgan, hinge, ... with gradient penalties instead."
            )
        if techniques:
            raise ConfigError(
                f"{name} takes no techniques list (they are written for noise-to-image "
                "GANs); its own options (image pool, loss weights) are algorithm arguments."
            )
        self.objective = objective
        self.penalties = list(penalties)
        self._data: dict[str, torch.Tensor] = {}

    # -- data -----------------------------------------------------------------------------
    def attach_data(self, dataset: Any) -> None:
        """Keep the dataset's tensors (uint8, no copy) for sample grids and ``sample``."""
        missing = {self.source_key, "real"} - set(dataset.tensors)
        if missing:
            name = getattr(self, "registered_name", type(self).__name__)
            raise ConfigError(
                f"{name} needs a dataset with {sorted({self.source_key, 'real'})} images, "
                f"but {dataset.name!r} has {sorted(dataset.tensors)}. Use a translation "
                "dataset (`ganforge data list`: edges2fashion, mnist2color, sr-cifar10, ...)."
            )
        self._data = dict(dataset.tensors)

    def draw(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """n examples of the attached dataset picked with ``generator``, as a batch.

        Indices are drawn on the CPU (``generator`` may live on any device: a fresh CPU
        generator is seeded from it), so the same seed gives the same examples anywhere.
        """
        if not self._data:
            raise RuntimeError("no data attached: call attach_data(dataset) first.")
        total = len(self._data["real"])
        seed = 0 if generator is None else int(generator.initial_seed())
        g = torch.Generator().manual_seed(seed)
        index = torch.randint(total, (n,), generator=g)
        out = {}
        for k, v in self._data.items():
            v = v[index.to(v.device)]
            out[k] = uint8_to_float(v) if v.dtype == torch.uint8 and v.dim() == 4 else v
        return {k: v.to(self.device) for k, v in out.items()}

    # -- sampling -------------------------------------------------------------------------
    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        """The generator applied to ``batch[source_key]`` (and its condition)."""
        raise NotImplementedError

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> torch.Tensor:
        """Translations of n sources drawn with ``generator``: (n, *target shape)."""
        return self.translate(self.draw(n, generator), nets)

    def panel(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> list[torch.Tensor]:
        """Columns of a sample grid, each (n, C, H, W) at the target's size and channels:
        input | output | target (a low-resolution input is shown enlarged, nearest)."""
        batch = self.draw(n, generator)
        out = self.translate(batch, nets)
        return [self._show(batch[self.source_key], out), out, batch["real"]]

    @staticmethod
    def _show(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != like.shape[-2:]:
            x = F.interpolate(x, size=like.shape[-2:], mode="nearest")
        return as_rgb(x, like.shape[1])

    def export_spec(self) -> dict[str, Any]:
        """``generator.json`` needs: what the exported generator takes and returns."""
        shapes = {}
        if self._data:
            shapes = {
                "in_shape": list(self._data[self.source_key].shape[1:]),
                "out_shape": list(self._data["real"].shape[1:]),
            }
        return {"translate": {"source": self.source_key, **shapes}}

    # -- projections ----------------------------------------------------------------------
    def after_step(self, phase: str, step: int) -> None:
        """After a critic step, the penalties' projections (weight clipping) on each critic."""
        if phase != self.critic_phase:
            return
        for pen in self.penalties:
            project = getattr(pen, "after_step", None)
            if project is not None:
                for key in self.critics:
                    project(self.nets[key])
