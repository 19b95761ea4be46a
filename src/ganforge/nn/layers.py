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

import torch
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


class ConvPyramid(nn.Module):
    """n stride-2 blocks Conv 4x4 -> [BatchNorm] -> LeakyReLU(0.2), channels doubling from
    ``base_channels``; returns every block's activation (multi-scale critic features).

    The shared trunk of the DiscoGAN critic (Kim et al. 2017) and the SegAN critic (Xue et
    al. 2018): both read the activations of every layer. Batch norm (``norm="batch"``) is
    on every block but the first, as in DCGAN (Radford et al. 2016).

    Args:
        name: the network's registry name, for error messages.
        in_shape: (C, H, W); H and W must be multiples of 2**n_layers.
        base_channels, n_layers, norm: widths, depth and normalisation.

    Attributes:
        out_shape: (C', H / 2**n, W / 2**n) of the last block.
        widths: flattened size of each block's activation, in order.
    """

    def __init__(
        self,
        name: str,
        in_shape: tuple[int, ...],
        base_channels: int,
        n_layers: int,
        norm: Literal["batch", "none"] = "batch",
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"{name}: norm must be 'batch' or 'none'; got {norm!r}.")
        m = 2**n_layers
        if len(in_shape) != 3 or in_shape[1] % m or in_shape[2] % m:
            raise UnsupportedShapeError(
                f"{name} needs in_shape (C, H, W) with H and W multiples of 2**n_layers = "
                f"{m}; got in_shape={tuple(in_shape)}. Lower n_layers or resize the images."
            )
        c_in, h, w = in_shape
        c = base_channels
        self.blocks = nn.ModuleList()
        widths = []
        for k in range(n_layers):
            bn = norm == "batch" and k > 0
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, 4, 2, 1, bias=not bn)]
            layers += [nn.BatchNorm2d(c)] if bn else []
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
            self.blocks.append(nn.Sequential(*layers))
            h, w = h // 2, w // 2
            widths.append(c * h * w)
            c_in, c = c, 2 * c
        self.out_shape = (c_in, h, w)
        self.widths: tuple[int, ...] = tuple(widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (N, C, H, W) -> [h_1, ..., h_n], h_k: (N, base * 2^(k-1), H / 2^k, W / 2^k)."""
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out
