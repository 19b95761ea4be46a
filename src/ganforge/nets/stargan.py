"""StarGAN: one generator for translation between many domains, and its two-headed critic.

Choi et al. 2018, StarGAN: Unified Generative Adversarial Networks for Multi-Domain
Image-to-Image Translation, section 3 and appendix 7.2 (network architecture). The
generator reads an image and the target domain c, given as num_domains constant maps
concatenated to the image; the critic has an adversarial head D_src (PatchGAN-style
score map) and a domain-classification head D_cls.

Registered as ``stargan-g`` and ``stargan-d``. Domain labels ``y`` are either int64
domain indices (N,) in [0, num_domains) (one domain per sample, as RaFD's expressions)
or float / bool (N, num_domains) multi-hot vectors (CelebA's attributes: black hair,
blond, brown, male, young).
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput, check_input_shape
from ganforge.nets.translator import NBlocks, ResidualBlock
from ganforge.nets.unet import NormName, check_image, norm_layer
from ganforge.nn.layers import (
    InitName,
    PositiveInt,
    Shape,
    UnsupportedShapeError,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Choi et al. 2018, StarGAN: Unified Generative Adversarial Networks for Multi-Domain "
    "Image-to-Image Translation"
)

#: Number of domains of a StarGAN (5 CelebA attributes in the paper).
NumDomains = Annotated[int, Field(ge=1, le=1000)]
#: StarGAN's LeakyReLU slope (appendix 7.2), smaller than DCGAN's 0.2.
STARGAN_SLOPE = 0.01


def domain_vectors(net: str, y: torch.Tensor | None, num_domains: int, n: int) -> torch.Tensor:
    """The target domain labels as float vectors c (N, num_domains).

    int labels (N,) become one-hot rows; float or bool (N, num_domains) multi-hot rows
    are used as they are (as float).

    Raises:
        ValueError: missing labels, a wrong shape or dtype, or an index outside
            [0, num_domains).
    """
    expected = (
        f"target domain labels y: int64 indices of shape ({n},) in [0, {num_domains - 1}], "
        f"or float multi-hot vectors of shape ({n}, {num_domains})"
    )
    if y is None:
        raise ValueError(f"{net} expects {expected}; got no labels (call net(x, y)).")
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{net} expects {expected}; got a {type(y).__name__}.")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        if tuple(y.shape) != (n, num_domains):
            raise ValueError(f"{net} expects {expected}; got a {y.dtype} tensor {tuple(y.shape)}.")
        return y.float()
    if y.dtype.is_complex or tuple(y.shape) != (n,):
        raise ValueError(f"{net} expects {expected}; got a {y.dtype} tensor {tuple(y.shape)}.")
    if n > 0 and bool(((y < 0) | (y >= num_domains)).any()):
        raise ValueError(f"{net} expects {expected}; got indices {int(y.min())}..{int(y.max())}.")
    return F.one_hot(y.long(), num_domains).float()


@NETS.register("stargan-g", paper=_PAPER)
class StarGANGenerator(nn.Module):
    """StarGAN generator: images x (N, C, H, W) and target domains y -> (N, C, H, W) in [-1, 1].

    c = domain vector of y (N, num_domains), broadcast to num_domains constant H x W maps
    and concatenated to x: (N, C + num_domains, H, W). Then, with b = base_channels and
    n = n_down (paper, appendix 7.2: b = 64, n = 2, 6 residual blocks):

        Conv7 s1 p3 (b) - IN - ReLU
        [Conv4 s2 p1 (2^k b) - IN - ReLU]        k = 1 .. n
        n_blocks x ResidualBlock(2^n b)           (Conv3 - IN - ReLU - Conv3 - IN, + skip)
        [ConvT4 s2 p1 (2^(k-1) b) - IN - ReLU]    k = n .. 1
        Conv7 s1 p3 (C) - tanh

    IN is instance norm with a learned gain and bias, normalising with each sample's own
    statistics in eval mode too (the authors' code keeps running statistics instead;
    instance statistics make the output independent of the other images and of the
    mode). Convolutions followed by a norm have no bias (as the authors' code).

    Args:
        in_channels: image channels C (input and output).
        num_domains: number of domains (length of c).
        base_channels: b (64).
        n_blocks: residual blocks (6).
        n_down: stride-2 stages n (2); H and W must be multiples of 2**n.
        norm: ``instance`` (the paper), ``batch`` or ``none``.
        spectral_norm: spectrally normalise every (transposed) convolution.
        init: ``default`` (PyTorch's, as the authors' code) or ``dcgan`` (N(0, 0.02)).

    Raises:
        ValueError: in forward, for images with other than ``in_channels`` channels or
            sides that are not multiples of 2**n_down, and for malformed labels (see
            :func:`domain_vectors`).
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        num_domains: NumDomains = 5,
        base_channels: PositiveInt = 64,
        n_blocks: NBlocks = 6,
        n_down: Annotated[int, Field(ge=0, le=6)] = 2,
        norm: NormName = "instance",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        norm_layer(norm, 1)  # validates the name
        self.in_channels, self.num_domains = int(in_channels), int(num_domains)
        self.n_down = int(n_down)

        def nrm(c: int) -> list[nn.Module]:
            layer = norm_layer(norm, c)
            return [layer] if layer is not None else []

        bias = norm == "none"
        b = base_channels
        layers: list[nn.Module] = [
            nn.Conv2d(self.in_channels + self.num_domains, b, 7, 1, 3, bias=bias),
            *nrm(b),
            nn.ReLU(),
        ]
        c = b
        for _ in range(self.n_down):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=bias), *nrm(2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm, pad="zeros") for _ in range(n_blocks)]
        for _ in range(self.n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=bias), *nrm(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.Conv2d(c, self.in_channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, C, H, W), y: (N,) int64 domains or (N, num_domains) multi-hot ->
        (N, C, H, W), the image translated to domain(s) y."""
        check_image(
            "stargan-g", x, self.in_channels, 2**self.n_down,
            hint=f"(n_down={self.n_down} stride-2 stages; pad or crop the images).",
        )  # fmt: skip
        c = domain_vectors("stargan-g", y, self.num_domains, x.shape[0]).to(x)
        maps = c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([x, maps], dim=1))  # (N, C + num_domains, H, W) in


@NETS.register("stargan-d", paper=_PAPER)
class StarGANDiscriminator(nn.Module):
    """StarGAN critic: images (N, C, H, W) -> CriticOutput(score (N, h, w), features, aux (N, num_domains)).

    With b = base_channels and n = n_layers (paper at 128 x 128: n = 6, b = 64):

        h = [Conv4 s2 p1 (2^(k-1) b) - LeakyReLU(0.01)]  k = 1 .. n    (no norm)
            -> (N, K, h, w), K = 2^(n-1) b, h = H / 2**n, w = W / 2**n
        D_src: Conv3 s1 p1 (1)(h)                         -> score (N, h, w) patch logits
        D_cls: Conv with kernel (h, w), no padding (num_domains)(h) -> aux (N, num_domains)

    The critic has no norm: StarGAN trains it with a gradient penalty (WGAN-GP), which
    is per-sample. ``aux`` holds the domain-classification logits (softmax cross
    entropy for one domain per sample, sigmoid per domain for multi-hot attributes);
    ``features`` (N, K h w) is the flattened trunk output h.

    Args:
        in_shape: (C, H, W).
        num_domains: number of domains (width of aux).
        base_channels: b (64).
        n_layers: stride-2 layers n; None = as the paper, down to a 2 x 2 map:
            log2(min(H, W)) - 1, at most 6 (largest power of two dividing both sides).
            H and W must be multiples of 2**n.
        spectral_norm: spectrally normalise every convolution.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        UnsupportedShapeError (a ValueError): ``in_shape`` sides not multiples of
            2**n_layers; in forward, a ValueError for any other input shape.
    """

    def __init__(
        self,
        in_shape: Shape,
        num_domains: NumDomains = 5,
        base_channels: PositiveInt = 64,
        n_layers: Annotated[int, Field(ge=1, le=10)] | None = None,
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.num_domains = int(num_domains)
        if len(self.in_shape) != 3:
            raise UnsupportedShapeError(
                f"stargan-d needs in_shape (C, H, W); got in_shape={self.in_shape}."
            )
        c_in, h, w = self.in_shape
        side = min(h, w)
        fits = 0  # the largest n with 2**n dividing H and W
        while h % 2 ** (fits + 1) == 0 and w % 2 ** (fits + 1) == 0:
            fits += 1
        if n_layers is None:
            n = min(6, max(1, side.bit_length() - 2), fits)  # log2(side) - 1 -> 2 x 2 map
            if n < 1:
                raise UnsupportedShapeError(
                    f"stargan-d needs H and W divisible by 2 at least; got in_shape={self.in_shape}."
                )
        else:
            n = int(n_layers)
            if n > fits:
                raise UnsupportedShapeError(
                    f"stargan-d with n_layers={n} needs H and W multiples of {2**n}; got "
                    f"in_shape={self.in_shape}, which allows n_layers <= {fits}. Lower "
                    f"n_layers or leave it out (None picks the paper's 2 x 2 final map)."
                )
        self.n_layers = n
        layers: list[nn.Module] = []
        c = base_channels
        for _ in range(n):
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(STARGAN_SLOPE)]
            c_in, c = c, 2 * c
        self.body = nn.Sequential(*layers)
        fh, fw = h // 2**n, w // 2**n
        self.src = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)  # D_src
        self.cls = nn.Conv2d(c_in, self.num_domains, (fh, fw), bias=False)  # D_cls
        self.feature_dim = c_in * fh * fw
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape) -> CriticOutput(score (N, h, w), features (N, K h w),
        aux (N, num_domains) domain logits)."""
        check_input_shape("stargan-d", x, self.in_shape)
        h = self.body(x)
        score = self.src(h)[:, 0]  # (N, h, w)
        aux = self.cls(h).flatten(1)  # (N, num_domains)
        return CriticOutput(score=score, features=h.flatten(1), aux=aux)
