"""Optimizers as registered constructors (so recipes are validated like everything else).

TTUR (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a
local Nash equilibrium") is simply a different ``lr`` per optimizer in the recipe:
``optim: {d: {name: adam, lr: 4e-4}, g: {name: adam, lr: 1e-4}}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import torch
from pydantic import Field

from ganforge.registry import OPTIMIZERS

Params = Iterable[torch.nn.Parameter]
LR = Annotated[float, Field(gt=0, le=10)]
Beta = Annotated[float, Field(ge=0, lt=1)]


@OPTIMIZERS.register("adam", paper="Kingma & Ba 2015, Adam: A Method for Stochastic Optimization")
def adam(
    params: Params,
    lr: LR = 2e-4,
    betas: tuple[Beta, Beta] = (0.5, 0.999),
    eps: Annotated[float, Field(gt=0)] = 1e-8,
    weight_decay: Annotated[float, Field(ge=0)] = 0.0,
    fused: bool | None = None,
) -> torch.optim.Optimizer:
    """Adam; the defaults are DCGAN's (lr 2e-4, beta1 0.5, Radford et al. 2016).

    ``fused``: one CUDA kernel for the whole update instead of a few per parameter
    group; None (default) means fused when every parameter is on a CUDA device (the
    GradScaler supports fused Adam), and torch's default elsewhere."""
    params = list(params)
    if fused is None:
        tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
        fused = (bool(tensors) and all(p.device.type == "cuda" for p in tensors)) or None
    return torch.optim.Adam(
        params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=fused
    )


@OPTIMIZERS.register("rmsprop", paper="Tieleman & Hinton 2012; used by WGAN (Arjovsky et al. 2017)")
def rmsprop(
    params: Params,
    lr: LR = 5e-5,
    alpha: Beta = 0.99,
    eps: Annotated[float, Field(gt=0)] = 1e-8,
    momentum: Annotated[float, Field(ge=0)] = 0.0,
) -> torch.optim.Optimizer:
    """RMSprop; the default lr is WGAN's 5e-5."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum)


@OPTIMIZERS.register(
    "sgd", paper="Goodfellow et al. 2014 trained the original GAN with SGD + momentum"
)
def sgd(
    params: Params,
    lr: LR = 0.1,
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.5,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    """Stochastic gradient descent with momentum."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov)
