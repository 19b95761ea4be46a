"""Soft and noisy targets for the original-GAN (binary cross-entropy) critic loss.

The critic of the original GAN is trained with BCE towards target 1 on real and 0 on fake
samples. Three well-known variations change those targets:

- **One-sided label smoothing** (Salimans et al. 2016, Improved Techniques for Training
  GANs, section 3.4): real targets 1 - smoothing (e.g. 0.9), fake targets stay 0. It
  keeps the critic from becoming over-confident, which would give the generator
  vanishing or very large gradients.
- **Two-sided smoothing**: fake targets ``smoothing`` > 0 as well. Salimans et al. advise
  against it: with targets alpha (real) and beta (fake) the optimal critic is
  D(x) = (alpha p_data + beta p_model) / (p_data + p_model); the beta p_model term keeps
  D large wherever p_data is small but p_model is not, so the generator is *not* pushed
  away from regions with no data: fakes there are rewarded. Hence one-sided smoothing is
  preferred; fake smoothing is offered for experiments.
- **Random target ranges**: real targets ~ U(0.7, 1.0) and fake ~ U(0.0, 0.3), via
  ``low`` / ``high`` (the "ganhacks" list of Soumith Chintala et al., "use soft and noisy
  labels"; the list gives 0.7-1.2 for real, but BCE targets must be probabilities, so
  ranges here are restricted to [0, 1]).
- **Label flipping**: each target replaced by 1 - target with probability ``flip`` (the
  same "ganhacks" tip: occasionally flip the labels when training the discriminator).

Randomness: the uniform range is drawn first (only when ``low`` / ``high`` are given),
then the flip coin (only when ``flip > 0``), both from ``generator``. Draws happen on the
generator's device and are then moved to ``device``, so a CPU generator works for any
device and seeded calls are reproducible.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from ganforge.nn.parallel import sharded
from ganforge.registry import TECHNIQUES
from ganforge.techniques.base import Technique

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def _rand(
    n: int,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    """(n,) U[0, 1) drawn on the generator's device, returned on ``device``."""
    if generator is None:  # a training draw: sharded over data-parallel ranks
        return sharded(lambda s: torch.rand(s, device=device, dtype=dtype), (n,))
    return torch.rand(n, generator=generator, device=generator.device, dtype=dtype).to(device)


def _targets(
    n: int,
    base: float,
    smoothing: float,
    low: float | None,
    high: float | None,
    flip: float,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> torch.Tensor:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}.")
    if not 0.0 <= flip <= 1.0:
        raise ValueError(f"flip must be a probability in [0, 1], got {flip}.")
    if (low is None) != (high is None):
        raise ValueError("Give both low and high (a random target range) or neither.")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    if low is not None and high is not None:
        if smoothing != 0.0:
            raise ValueError("Use either smoothing or a random range (low, high), not both.")
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"Need 0 <= low <= high <= 1, got low={low}, high={high}.")
        t = low + (high - low) * _rand(n, generator, device, dtype)
    else:
        # base 1 (real): 1 - smoothing; base 0 (fake): smoothing.
        value = base - smoothing if base == 1.0 else smoothing
        t = torch.full((n,), value, device=device, dtype=dtype)
    if flip > 0.0:
        flipped = _rand(n, generator, device, dtype) < flip
        t = torch.where(flipped, 1.0 - t, t)
    return t


def real_targets(
    n: int,
    *,
    smoothing: float = 0.0,
    low: float | None = None,
    high: float | None = None,
    flip: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Critic targets for n real samples.

    Args:
        n: the number of targets.
        smoothing: one-sided label smoothing (Salimans et al. 2016): targets 1 - smoothing.
            0.1 gives the usual 0.9.
        low, high: instead of a constant, targets ~ U(low, high), e.g. (0.7, 1.0)
            ("ganhacks"). Both or neither; not together with ``smoothing``.
        flip: probability of replacing each target t by 1 - t (label flipping).
        generator: source of all random draws (range and flips).
        device, dtype: of the result (dtype defaults to torch's default float dtype).

    Returns:
        (n,) targets in [0, 1].
    """
    return _targets(n, 1.0, smoothing, low, high, flip, generator, device, dtype)


def fake_targets(
    n: int,
    *,
    smoothing: float = 0.0,
    low: float | None = None,
    high: float | None = None,
    flip: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Critic targets for n fake samples.

    ``smoothing`` > 0 gives targets ``smoothing`` instead of 0: together with real-label
    smoothing this is *two-sided* smoothing, which Salimans et al. 2016 advise against
    (it rewards fakes where p_data is small; see the module docstring). ``low``/``high``
    give targets ~ U(low, high), e.g. (0.0, 0.3) ("ganhacks"); ``flip`` replaces each
    target t by 1 - t with that probability. Other arguments as in :func:`real_targets`.

    Returns:
        (n,) targets in [0, 1].
    """
    return _targets(n, 0.0, smoothing, low, high, flip, generator, device, dtype)


def bce_with_targets(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of critic logits against soft targets.

    ``-mean(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l)))``, computed stably by
    :func:`torch.nn.functional.binary_cross_entropy_with_logits`. With soft targets the
    minimum is not 0 but the binary entropy of t, reached at sigmoid(l) = t.

    Args:
        logits: (N,) critic logits, or (N, ...) for patch critics.
        targets: (N,) targets in [0, 1] (broadcast over the trailing axes of a patch
            critic's logits), or the full shape of ``logits``.

    Returns:
        A scalar tensor.
    """
    if targets.ndim == 1 and logits.ndim > 1 and targets.shape[0] == logits.shape[0]:
        targets = targets.reshape(-1, *([1] * (logits.ndim - 1))).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


# -- registered techniques (recipe ``techniques`` list) --------------------------------------
def _range(r: tuple[float, float] | None, name: str) -> tuple[float, float] | tuple[None, None]:
    if r is None:
        return None, None
    low, high = r
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"{name} must be [low, high] with 0 <= low <= high <= 1, got {list(r)}.")
    return low, high


@TECHNIQUES.register(
    "label-smoothing",
    paper="Salimans et al. 2016, Improved Techniques for Training GANs (sec. 3.4)",
    summary="overconfident critic: soft BCE targets (one- or two-sided, fixed or random)",
)
class LabelSmoothing(Technique):
    """Soft targets for the critic's binary cross-entropy (original-GAN objectives).

    An over-confident critic saturates: its logits grow without bound and the generator's
    gradient becomes tiny or erratic. Salimans et al. 2016 replace the real target 1 by
    0.9 (``real: 0.1``, one-sided); ``fake`` > 0 makes it two-sided, which they advise
    against (see the module docstring); ``real_range`` / ``fake_range`` draw the targets
    uniformly per sample instead, e.g. [0.7, 1.0] and [0.0, 0.3] ("soft and noisy
    labels"). Only the critic's loss changes; the generator's does not.

    Args:
        real: one-sided smoothing: real targets 1 - real.
        fake: fake targets ``fake`` (two-sided when > 0).
        real_range, fake_range: [low, high] for per-sample uniform targets (replace
            ``real`` / ``fake``).
    """

    targets = "overconfident critic (saturating gradients)"
    #: sets the targets afresh, so it must come before techniques that modify them
    resets_targets = True

    def __init__(
        self,
        real: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1,
        fake: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0,
        real_range: tuple[Fraction, Fraction] | None = None,
        fake_range: tuple[Fraction, Fraction] | None = None,
    ) -> None:
        self.real, self.fake = real, fake
        self.real_low, self.real_high = _range(real_range, "real_range")
        self.fake_low, self.fake_high = _range(fake_range, "fake_range")
        if real_range is not None:
            self.real = 0.0
        if fake_range is not None:
            self.fake = 0.0

    def critic_targets(
        self, t_real: torch.Tensor, t_fake: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,) targets 1 and 0 in, smoothed (N,) targets out. It sets the targets
        afresh, so the algorithm requires it before ``label-flip`` in the list."""
        kw = {"device": t_real.device, "dtype": t_real.dtype}
        r = real_targets(
            len(t_real), smoothing=self.real, low=self.real_low, high=self.real_high, **kw
        )
        f = fake_targets(
            len(t_fake), smoothing=self.fake, low=self.fake_low, high=self.fake_high, **kw
        )
        return r, f


@TECHNIQUES.register(
    "label-flip",
    paper="Chintala et al. 2016, How to Train a GAN (NIPS workshop tips, 'ganhacks')",
    summary="overconfident critic: each critic target flipped with probability p",
)
class LabelFlip(Technique):
    """Each critic target t replaced by 1 - t with probability ``p`` (real and fake).

    The critic is told now and then that a real sample is fake and a fake one real, a
    label noise that keeps it from becoming certain and its gradients from saturating.
    Composes with ``label-smoothing`` when listed after it (a smoothed 0.9 flips to 0.1).

    Args:
        p: flip probability per target.
        real, fake: which targets may flip (both by default).
    """

    targets = "overconfident critic (saturating gradients)"

    def __init__(
        self,
        p: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05,
        real: bool = True,
        fake: bool = True,
    ) -> None:
        if not (real or fake):
            raise ValueError("label-flip with real=false and fake=false flips nothing.")
        self.p, self.real, self.fake = p, real, fake

    def _flip(self, t: torch.Tensor) -> torch.Tensor:
        coin = torch.rand(t.shape, device=t.device, dtype=t.dtype) < self.p
        return torch.where(coin, 1.0 - t, t)

    def critic_targets(
        self, t_real: torch.Tensor, t_fake: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flip each (N,) target with probability p (real first, then fake)."""
        if self.real:
            t_real = self._flip(t_real)
        if self.fake:
            t_fake = self._flip(t_fake)
        return t_real, t_fake
