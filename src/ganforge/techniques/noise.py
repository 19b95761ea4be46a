"""Instance noise: blur the critic's inputs with Gaussian noise, annealed to zero.

Real and generated distributions often live on low-dimensional manifolds that do not
overlap; then the original GAN's critic can separate them perfectly and the generator's
gradient vanishes or becomes unstable (Arjovsky & Bottou 2017, Towards Principled
Methods for Training Generative Adversarial Networks, section 4). Adding the same kind
of noise x + sigma * eps, eps ~ N(0, I), to *both* real and fake critic inputs convolves
both distributions with a Gaussian: their supports then overlap everywhere and the
divergence the critic estimates is smooth in the generator's parameters. Sønderby et al.
2016 (Amortised MAP Inference for Image Super-resolution, "instance noise") anneal sigma
towards 0 during training so the final model fits the noise-free data.

- :func:`instance_noise_std`: sigma at a training step (linear decay or constant).
- :func:`add_instance_noise`: x + sigma * N(0, 1), with independent noise per element.

Draw the noise for real and fake inputs separately (two calls); never reuse one draw.
"""

from __future__ import annotations

from typing import Literal

import torch

from ganforge.nn.parallel import sharded

NoiseSchedule = Literal["linear", "constant"]


def instance_noise_std(
    step: int, std: float, anneal_steps: int, schedule: NoiseSchedule = "linear"
) -> float:
    """The instance-noise std at training step ``step``.

    Schedules:
        ``linear``: std * (1 - step / anneal_steps) for step < anneal_steps, then 0:
            ``std`` at step 0, ``std / 2`` half-way, 0 from ``anneal_steps`` on.
        ``constant``: ``std`` at every step (``anneal_steps`` is ignored).

    Raises:
        ValueError: for a negative step or std, a non-positive ``anneal_steps`` with the
            linear schedule, or an unknown schedule.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}.")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}.")
    if schedule == "constant":
        return float(std)
    if schedule != "linear":
        raise ValueError(f"Unknown noise schedule {schedule!r}; choose 'linear' or 'constant'.")
    if anneal_steps <= 0:
        raise ValueError(f"anneal_steps must be > 0 for the linear schedule, got {anneal_steps}.")
    return float(std) * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(
    x: torch.Tensor, std: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x + std * eps`` with eps ~ N(0, 1) elementwise, same shape, dtype and device as x.

    ``std == 0`` returns ``x`` itself (no copy, no random draw). The noise is drawn on the
    generator's device (when one is given) and moved to ``x.device``, so a CPU generator
    works for any device. Gradients flow to x unchanged.

    Raises:
        ValueError: for a negative std.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}.")
    if std == 0:
        return x
    if generator is None:  # a training draw: sharded over data-parallel ranks
        eps = sharded(lambda s: torch.randn(s, device=x.device, dtype=x.dtype), tuple(x.shape))
        return x + std * eps
    eps = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return x + std * eps.to(x.device)
