"""scikit-learn's bundled handwritten digits: a tiny real image set that works offline."""

from __future__ import annotations

from typing import Literal

import torch

from ganforge.data._image import resize_bilinear_uint8
from ganforge.data.base import TensorDataset
from ganforge.registry import DATASETS


@DATASETS.register(
    "digits",
    paper="UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998), via scikit-learn",
)
def digits(resolution: Literal[8, 16, 32] = 16) -> TensorDataset:
    """1,797 handwritten digits (scikit-learn ``load_digits``): real (1797, 1, R, R) uint8.

    The native images are 8x8 with integer values 0..16 (high = ink, so white digit
    on black like MNIST). They are scaled by 255/16 to 0..255 and, for R = 16 or 32,
    upsampled with bilinear interpolation (``F.interpolate``, ``align_corners=False``),
    then rounded half up to uint8. R = 8 is the native grid. Labels (1797,) int64 0..9.

    Bundled with scikit-learn: no download, ideal for CPU smoke runs.
    """
    from sklearn.datasets import load_digits  # imported lazily: sklearn is slow to import

    bunch = load_digits()
    raw = torch.from_numpy(bunch.images).reshape(-1, 1, 8, 8)  # float64 in 0..16
    real = resize_bilinear_uint8(raw, int(resolution), scale=255.0 / 16.0)
    label = torch.from_numpy(bunch.target).long()
    return TensorDataset(
        name="digits",
        kind="images",
        tensors={"real": real, "label": label},
        num_classes=10,
        info={
            "classes": [str(i) for i in range(10)],
            "source": "sklearn.datasets.load_digits",
            "resize": "none" if resolution == 8 else "bilinear (align_corners=False) from 8x8",
        },
    )
