"""Gradients taken inside a loss (gradient penalties, look-ahead steps) under fp16 loss scaling.

With fp16 autocast the engine multiplies every loss by a scale ``S`` before backward
(``torch.amp.GradScaler``) so that small gradients do not underflow to zero in half
precision, and divides the parameter gradients by ``S`` before the optimizer step. A
loss that itself contains a gradient, like the WGAN-GP term ``(||d D(x)/dx|| - 1)^2``,
has the same problem one level down: ``d D(x)/dx`` is back-propagated through the
critic's fp16 activations, and without scaling its small entries flush to zero (or, for
a large score, overflow). The PyTorch AMP recipe for gradient penalties is to scale the
output before ``autograd.grad`` and unscale the result:

    g = autograd.grad(S * y, x) / S        (= dy/dx exactly in real arithmetic)

:func:`loss_scaled_grad` does that with the scale the engine makes active for the
phase (:func:`active_loss_scale`); outside fp16 training no scale is active and it is
the plain ``autograd.grad``. If ``S`` was too large, ``g`` contains inf, the loss
becomes inf, the scaled backward puts inf in the parameter gradients and the scaler
skips the step and halves ``S`` — the same protocol as for an ordinary overflow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

_SCALE: torch.Tensor | None = None


def current_loss_scale() -> torch.Tensor | None:
    """The loss scale of the running fp16 phase (a 0-d or 1-element tensor), or None."""
    return _SCALE


@contextlib.contextmanager
def active_loss_scale(scale: torch.Tensor | None) -> Iterator[None]:
    """Make :func:`loss_scaled_grad` scale by ``scale`` inside the block (None: no scaling).

    The engine enters this around ``Algorithm.loss`` when it trains with fp16 and a
    GradScaler; the tensor stays on the device (no host synchronisation)."""
    global _SCALE
    previous, _SCALE = _SCALE, scale
    try:
        yield
    finally:
        _SCALE = previous


def loss_scaled_grad(
    output: torch.Tensor,
    inputs: Sequence[torch.Tensor],
    *,
    create_graph: bool,
    allow_unused: bool = False,
) -> tuple[torch.Tensor | None, ...]:
    """``torch.autograd.grad(output, inputs)`` that is safe under fp16 loss scaling.

    Args:
        output: a scalar (e.g. ``score.sum()`` or a look-ahead loss).
        inputs: tensors that require grad.
        create_graph: keep the graph of the result (a penalty backpropagated further).
        allow_unused: as in ``torch.autograd.grad``; unused inputs give None.

    Returns:
        one gradient per input, in the inputs' dtypes, divided back by the active scale.
    """
    scale = _SCALE
    if scale is None:
        return torch.autograd.grad(
            output, list(inputs), create_graph=create_graph, allow_unused=allow_unused
        )
    s = scale.reshape(()).to(torch.float32)
    grads = torch.autograd.grad(
        output.float() * s, list(inputs), create_graph=create_graph, allow_unused=allow_unused
    )
    # the division is in float32: an fp16 gradient divided by 2^16 would underflow again
    return tuple(None if g is None else (g.float() / s).to(g.dtype) for g in grads)
