"""Figures of GAN theory: the three generator losses of the original GAN.

Goodfellow 2016, NIPS 2016 Tutorial: Generative Adversarial Networks, Fig. 16 (the
issue's "Fig. 1"): the cost the generator receives for a sample against D(G(z)), for
the minimax, non-saturating and maximum-likelihood losses, and their gradients with
respect to the critic's logit, the quantity that actually reaches the generator.

Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no global
state), written atomically, like :mod:`ganforge.reports.plots`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ganforge.io import atomic_write
from ganforge.theory.discriminator import generator_loss_curves

__all__ = ["generator_loss_gradients", "plot_generator_losses"]

_STYLE = {
    "minimax": ("minimax  log(1 - D)", "#1f77b4", "-"),
    "ns": ("non-saturating  -log D", "#d62728", "--"),
    "ml": ("maximum likelihood  -D / (2 (1 - D))", "#2ca02c", "-."),
}


def generator_loss_gradients(d: np.ndarray) -> dict[str, np.ndarray]:
    """dJ(G)/dl of the three original-GAN generator losses, l = sigma^-1(D) the logit.

    Computed by autograd through :func:`ganforge.theory.generator_loss_curves`; the
    closed forms are -D (minimax), D - 1 (non-saturating) and -D / (2 (1 - D))
    (maximum likelihood, = -exp(l) / 2).

    Args:
        d: values of D(G(z)) in (0, 1), any shape.

    Returns:
        ``{"minimax": ..., "ns": ..., "ml": ...}``, float64 arrays shaped like ``d``.
    """
    dd = np.asarray(d, dtype=np.float64)
    logit = torch.logit(torch.as_tensor(dd)).requires_grad_(True)
    curves = generator_loss_curves(torch.sigmoid(logit))
    out = {}
    for name, values in curves.items():
        # each element depends only on its own logit: the gradient of the sum is elementwise
        (grad,) = torch.autograd.grad(values.sum(), logit, retain_graph=True)
        out[name] = grad.numpy()
    return out


def plot_generator_losses(path: str | os.PathLike[str], n: int = 1001) -> Path:
    """Plot the three generator losses and their logit gradients against D(G(z)).

    Left: J(G) for one sample as a function of D(G(z)) in (0, 1) (Goodfellow 2016,
    Fig. 16): the minimax cost is flat where the critic rejects the sample (D ~ 0),
    the non-saturating cost is steep there, the maximum-likelihood cost is flat there
    and steep near D = 1. Right: dJ(G)/dl, the gradient with respect to the critic's
    logit, -D, D - 1 and -D / (2 (1 - D)).

    Args:
        path: the PNG to write (atomically).
        n: number of points in (0, 1).

    Returns:
        ``path`` as a :class:`Path`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if n < 3:
        raise ValueError(f"n must be at least 3 points, got {n}.")
    d = np.linspace(0.0, 1.0, n + 2)[1:-1]  # open interval: the ends are infinite
    values = generator_loss_curves(d)
    grads = generator_loss_gradients(d)

    fig = Figure(figsize=(10.0, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, (label, color, ls) in _STYLE.items():
        left.plot(d, values[name], color=color, linestyle=ls, linewidth=1.6, label=label)
        right.plot(d, grads[name], color=color, linestyle=ls, linewidth=1.6, label=label)
    left.set_ylim(-20, 5)  # the range of Goodfellow's figure
    left.set_ylabel("J(G)")
    left.set_title("generator cost")
    right.set_ylim(-5, 0.5)
    right.set_ylabel("dJ(G) / d logit")
    right.set_title("gradient with respect to the critic's logit")
    for ax in (left, right):
        ax.set_xlim(0, 1)
        ax.set_xlabel("D(G(z))")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("Original GAN generator losses (Goodfellow 2016, NIPS tutorial, Fig. 16)")
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png"))
