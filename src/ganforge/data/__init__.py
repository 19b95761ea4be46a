"""Datasets -> batches (dicts of tensors); downloads with checksums; bundled toy data.

Importing this package registers every dataset in :data:`ganforge.registry.DATASETS`:

- toy 2-D mixtures: ``ring8``, ``grid25``, ``spiral``, ``line`` (offline)
- ``digits``: scikit-learn's 8x8 digits, upscaled (offline)
- ``mnist``, ``fashion-mnist``: idx files, downloaded or from ``root``
- ``cifar10``: the official pickled batches, downloaded or from ``root``
- ``image-folder``: your own images from a folder or a .zip (offline)
- translation sets built from the above (offline with ``root``): paired ``edges2fashion``,
  ``edges2cifar``, ``gray2color``, ``inpaint``, ``mnist-seg``; super-resolution
  ``sr-cifar10``, ``sr-photos`` (scikit-image's bundled photos); unpaired ``mnist2color``,
  ``cifar-cat2dog``; multi-domain ``mnist-domains``
- ``paired-folder``, ``unpaired-folder``: your own image pairs / two domains (offline)
- standard translation sets, downloaded or from ``root``: pix2pix ``facades``, ``maps``,
  ``edges2shoes``; CycleGAN ``horse2zebra``, ``apple2orange``, ``monet2photo``; ``div2k``
"""

from __future__ import annotations

from ganforge.data import (  # noqa: F401  (registration)
    cifar10,
    digits,
    image_folder,
    mnist,
    toy,
    translation,
    translation_folders,
)
from ganforge.data.base import InfiniteSampler, TensorDataset, float_to_uint8, uint8_to_float
from ganforge.data.catalog import DatasetInfo, list_datasets, prepare

# Note: the function ``download`` is NOT re-exported, so that ``ganforge.data.download``
# stays the module (use ``from ganforge.data.download import download``).
from ganforge.data.download import cache_dir, verify_file

__all__ = [
    "DatasetInfo",
    "InfiniteSampler",
    "TensorDataset",
    "cache_dir",
    "float_to_uint8",
    "list_datasets",
    "prepare",
    "uint8_to_float",
    "verify_file",
]
