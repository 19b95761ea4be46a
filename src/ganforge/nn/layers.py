"""Small helpers shared by every network family.

- :func:`activation`: a name -> ``nn.Module`` lookup, so constructors take plain strings.
- :func:`init_weights`: weight initialisation schemes by name (``"dcgan"``, ``"default"``).
- :func:`apply_spectral_norm`: wrap every linear / conv layer of a module in spectral
  normalisation (Miyato et al. 2018, Spectral Normalization for Generative Adversarial
  Networks).
- Type aliases for constructor arguments (``PositiveInt``, ``Shape``, ...) that carry
  pydantic constraints, so :meth:`ganforge.registry.Registry.validate` checks recipes
  against them before anything is built.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ganforge.errors import ConfigError

# -- constructor argument types (validated by the registry through pydantic) ----------------
PositiveInt = Annotated[int, Field(gt=0)]
#: A sample shape without the batch axis: ``(2,)`` for points, ``(C, H, W)`` for images.
Shape = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
#: Hidden layer widths of an MLP, input side first; ``()`` means no hidden layer.
Widths = tuple[PositiveInt, ...]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]

ActivationName = Literal["relu", "leaky_relu", "tanh", "sigmoid", "none"]
InitName = Literal["default", "dcgan"]

#: LeakyReLU slope used throughout (Radford et al. 2016 use 0.2 in the discriminator).
LEAKY_SLOPE = 0.2

# Layers whose ``weight`` is a linear map: the ones spectral norm and inits act on.
_LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                 nn.ConvTranspose2d, nn.ConvTranspose3d)  # fmt: skip
_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


def activation(name: str, negative_slope: float = LEAKY_SLOPE) -> nn.Module:
    """A fresh activation module by name.

    Args:
        name: ``relu``, ``leaky_relu`` (slope ``negative_slope``), ``tanh``, ``sigmoid``
            or ``none`` (identity).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    table = {
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(negative_slope),
        "tanh": lambda: nn.Tanh(),
        "sigmoid": lambda: nn.Sigmoid(),
        "none": lambda: nn.Identity(),
    }
    if name not in table:
        raise ValueError(f"Unknown activation {name!r}; choose one of {', '.join(table)}.")
    return table[name]()


def init_weights(module: nn.Module, scheme: str = "default") -> nn.Module:
    """Initialise the weights of every linear / conv / norm layer in ``module``, in place.

    Schemes:
        ``default``: leave PyTorch's own initialisation (Kaiming-uniform with a = sqrt(5)).
        ``dcgan``: Radford et al. 2016: conv and linear weights ~ N(0, 0.02); batch-norm
            (and group/layer-norm) scale ~ N(1, 0.02); every bias = 0.

    Call before :func:`apply_spectral_norm`: afterwards ``weight`` is a computed
    attribute and the raw weight lives in ``parametrizations.weight.original``.

    Returns:
        ``module``, for chaining.
    """
    if scheme == "default":
        return module
    if scheme != "dcgan":
        raise ValueError(f"Unknown init scheme {scheme!r}; choose 'default' or 'dcgan'.")
    for m in module.modules():
        if isinstance(m, _LINEAR_TYPES):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORM_TYPES) and getattr(m, "weight", None) is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectrally normalise every linear / conv layer of ``module``, in place.

    Each weight W is replaced by W / sigma(W), sigma the largest singular value estimated
    by power iteration (one step per training forward pass; in eval mode the stored
    singular vectors are used, so outputs are deterministic). The singular-vector
    estimates ``_u``, ``_v`` are buffers, hence saved in the state dict. Miyato et al.
    2018, Spectral Normalization for Generative Adversarial Networks.

    Returns:
        ``module``, for chaining.
    """
    # Collect first: registering a parametrization adds submodules while we iterate.
    targets = [m for m in module.modules() if isinstance(m, _LINEAR_TYPES)]
    for m in targets:
        # torch picks dim=1 (the output-channel axis) for transposed convolutions itself.
        _spectral_norm(m, n_power_iterations=n_power_iterations)
    return module


class UnsupportedShapeError(ConfigError, ValueError):
    """A network was asked for a sample shape it cannot produce or read.

    A :class:`~ganforge.errors.ConfigError` (the CLI shows the message without a
    traceback) and a ``ValueError`` (what Python code expects for a bad argument).
    """
