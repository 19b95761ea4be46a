"""Feature extractors: the networks that turn samples into the vectors metrics compare.

Registry :data:`ganforge.registry.FEATURES`; a spec is a name or ``name:argument``:

- ``inception-fid``: Inception-v3 with the TensorFlow 2015-12-05 weights of the
  reference FID / IS code (2048-d pool3 features, 1008 unbiased logits when the weight
  file has them); see :mod:`ganforge.metrics.inception`.
- ``classifier:<dataset>`` (``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``):
  ganforge's own LeNet trained on that dataset (deterministic, cached with its sha256);
  128-d penultimate features and the 10 class logits. The fast, offline way to score
  digit-like data, and the per-channel mode counter of Stacked MNIST.
- ``identity``: the samples themselves, flattened (2-D toy data, vectors).

Every image goes through ONE quantisation rule before any extractor:
:func:`ganforge.data.base.float_to_uint8` (float in [-1, 1] -> uint8 by
``floor((x + 1) * 127.5 + 0.5)``, i.e. round half up, as StyleGAN2-ADA does), so a
generator is scored on exactly the pixels a saved PNG would hold, and real uint8 data
passes through unchanged.

An extractor is called on a batch and returns a dict of float32 CPU tensors:
``"features"`` (N, D) always, ``"logits"`` (N, K) when it classifies. Its
:meth:`FeatureExtractor.card` says what an evaluation card records about it.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

import torch

from ganforge.data.base import float_to_uint8
from ganforge.errors import ConfigError
from ganforge.registry import FEATURES

#: The one documented rounding rule from generator output to pixels (on every card).
QUANTIZATION = "uint8 = clamp(floor((x + 1) * 127.5 + 0.5), 0, 255) (round half up)"


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images as uint8 (N, C, H, W): float in [-1, 1] quantised by :data:`QUANTIZATION`."""
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise TypeError(f"images must be uint8 or float in [-1, 1], got {images.dtype}")
    return float_to_uint8(images)


class FeatureExtractor:
    """Base class: ``__call__(batch) -> {"features": (N, D)[, "logits": (N, K)]}``.

    Subclasses set :attr:`name` (as written on cards), :attr:`dim`, :attr:`kind`
    (``"images"`` or ``"points"``: the data it accepts) and implement :meth:`extract`.
    """

    name: str = ""
    kind: ClassVar[str] = "images"
    dim: int = 0

    def extract(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.kind == "images":
            if batch.dim() != 4:
                raise ValueError(
                    f"{self.name} takes image batches (N, C, H, W), got shape {tuple(batch.shape)}"
                )
            batch = to_uint8(batch)
        out = self.extract(batch)
        return {k: v.detach().float().cpu() for k, v in out.items()}

    @property
    def has_logits(self) -> bool:
        return False

    def card(self) -> dict[str, Any]:
        """What an evaluation card records: name, weights sha256, preprocessing."""
        raise NotImplementedError


@FEATURES.register(
    "inception-fid",
    paper="Szegedy et al. 2016 (Inception-v3); Heusel et al. 2017 (FID); Salimans et al. 2016 (IS)",
)
class InceptionFID(FeatureExtractor):
    """Inception-v3 of the reference FID code: 2048-d pool3 features (+ 1008 logits for IS).

    Args:
        weights: a weight file (pytorch-fid's ``pt_inception-2015-12-05-*.pth`` or the
            TorchScript with TensorFlow layer names); None: ``$GANFORGE_INCEPTION_WEIGHTS``,
            then the cache, then a checksummed download of the pytorch-fid release file.
        batch_size: images per forward pass.
        device: where the network runs (injected).
    """

    def __init__(
        self, weights: str | None = None, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        from ganforge.metrics.inception import load_inception

        path = weights or os.environ.get("GANFORGE_INCEPTION_WEIGHTS") or None
        self.net = load_inception(path, device=device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.name, self.dim = "inception-fid", 2048

    @property
    def has_logits(self) -> bool:
        return bool(getattr(self.net, "has_logits", False))

    def extract(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {}
        for i in range(0, len(batch), self.batch_size):
            out = self.net(batch[i : i + self.batch_size].to(self.device))
            for k, v in out.items():
                parts.setdefault("features" if k == "pool" else k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in parts.items()}

    def card(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "weights_sha256": self.net.weights_sha256,
            "resize": "TF1 bilinear to 299x299 (align_corners=False, no half-pixel offset)",
            "normalization": "(x - 128) / 128",
            "quantization": QUANTIZATION,
        }


@FEATURES.register(
    "classifier",
    paper="LeCun et al. 1998 (LeNet); trained by ganforge, see ganforge.metrics.classifier",
)
class ClassifierFeatures(FeatureExtractor):
    """ganforge's LeNet trained on ``dataset``: 128-d features and 10 class logits.

    Written ``classifier:<dataset>``. The logits are those of the real classes (the
    background "not of any class" output is dropped), so the Inception Score and Mode
    Score see a 10-way classifier.

    Args:
        dataset: ``digits``, ``mnist``, ``fashion-mnist`` or ``cifar10``.
        resolution: image size (None: the dataset's default, 16 for digits, 32 otherwise;
            cifar10: 32 only).
        root: a local copy of the dataset to train on (None: cache or download).
        device: injected (the classifier is tiny; it runs where the samples are).
    """

    def __init__(
        self,
        dataset: Literal["digits", "mnist", "fashion-mnist", "cifar10"],
        resolution: int | None = None,
        root: str | None = None,
        device: str = "cpu",
    ) -> None:
        from ganforge.metrics.classifier import dataset_classifier

        self.model = dataset_classifier(dataset, resolution, root).to(device)
        self.device = torch.device(device)
        self.dataset = dataset
        self.name, self.dim = f"classifier:{dataset}", 128

    @property
    def has_logits(self) -> bool:
        return True

    @property
    def resolution(self) -> int:
        return int(self.model.resolution)

    def extract(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        from ganforge.data.base import uint8_to_float

        m = self.model
        want = (m.in_channels, m.resolution, m.resolution)
        if tuple(batch.shape[1:]) != want:
            raise ConfigError(
                f"{self.name} takes images of shape (N, {', '.join(map(str, want))}); got "
                f"{tuple(batch.shape)}. Use an extractor for this data (inception-fid works "
                "for any image size) or evaluate at the classifier's resolution."
            )
        feats, logits = [], []
        for i in range(0, len(batch), 1024):
            h = m.features(uint8_to_float(batch[i : i + 1024].to(self.device)))
            feats.append(h)
            logits.append(m.fc2(h)[:, : m.num_classes])
        return {"features": torch.cat(feats), "logits": torch.cat(logits)}

    def card(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "weights_sha256": self.model.info.get("sha256"),
            "resize": "none (images must be at the classifier's resolution "
            f"{self.model.resolution}x{self.model.resolution})",
            "normalization": "x / 127.5 - 1",
            "quantization": QUANTIZATION,
            "classifier_test_accuracy": self.model.info.get("test_accuracy"),
        }


@FEATURES.register("identity", paper="(the samples themselves)")
class Identity(FeatureExtractor):
    """The samples themselves, flattened to (N, D) float: for 2-D toy data and vectors."""

    kind: ClassVar[str] = "points"

    def __init__(self, device: str = "cpu") -> None:
        self.name = "identity"

    def extract(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": batch.reshape(len(batch), -1).float()}

    def card(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "weights_sha256": None,
            "resize": "none",
            "normalization": "none",
            "quantization": "none",
        }


def parse_spec(spec: str | dict[str, Any]) -> dict[str, Any]:
    """``"classifier:mnist"`` -> ``{"name": "classifier", "dataset": "mnist"}``; dicts pass."""
    if isinstance(spec, dict):
        return dict(spec)
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"a feature extractor is a name like 'inception-fid', got {spec!r}.")
    name, _, arg = spec.partition(":")
    if name == "classifier":
        if not arg:
            raise ConfigError(
                "the classifier extractor needs its dataset: write classifier:digits, "
                "classifier:mnist, classifier:fashion-mnist or classifier:cifar10."
            )
        return {"name": name, "dataset": arg}
    if arg:
        raise ConfigError(f"feature extractor {name!r} takes no ':' argument (got {spec!r}).")
    return {"name": name}


def build_extractor(
    spec: str | dict[str, Any], device: str | torch.device = "cpu", **defaults: Any
) -> FeatureExtractor:
    """Build an extractor from ``"name[:arg]"`` or a dict; ``defaults`` fill unset arguments
    the extractor accepts (e.g. ``resolution``, ``weights``)."""
    d = parse_spec(spec)
    accepted = FEATURES.parameters(d["name"]) if d["name"] in FEATURES else {}
    for k, v in defaults.items():
        if k in accepted and d.get(k) is None and v is not None:
            d[k] = v
    return FEATURES.build(d, "extractor", device=str(device))


def default_extractor(kind: str) -> str:
    """The extractor FID & co. use for a kind of data when none is named."""
    return "inception-fid" if kind == "images" else "identity"
