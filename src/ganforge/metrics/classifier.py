"""A small LeNet-style classifier to check that generated images look like their classes.

The main use is a sanity check of the default recipe: a GAN trained on scikit-learn's
digits should produce samples that a digits classifier recognises with confidence
(``confident_fraction(predict_proba(clf, samples)) > 0.7``). Such a check is only worth
something if garbage fails it, and a plain softmax classifier does not guarantee that:
softmax must spread its mass over the digit classes, and ReLU networks are known to be
overconfident far from the training data (Hein et al., "Why ReLU networks yield
high-confidence predictions far away from the training data", CVPR 2019). Uniform
noise, blank images or blurry blobs can then be called a "1" or an "8" with 99%
confidence.

Measured on 16x16 digits with the same network trained without it (20 epochs, 99%
held-out accuracy), the fraction of images classified with confidence > 0.9 was: all
white 1.00, the mean of all digits 1.00, random grey levels 0.36, smooth noise 0.30,
uniform noise 0.10; a check meant to reject garbage cannot rest on that.

Our fix is an explicit *background* ("not a digit") class trained on generated
outliers (outlier exposure, Hendrycks et al., ICLR 2019): uniform and Gaussian noise,
blank images of any grey level, smooth low-frequency noise, sparse speckles, real
digits with their pixels shuffled (same intensities, no strokes), blurred or not, and
means of several real digits (the blob a collapsed generator makes). See
:func:`background_images`. With it all of the above score 0.00-0.01 (inverted digits
and checkerboards, never seen in training, too). :func:`predict_proba` returns the
probabilities of the real classes only, so mass on the background class lowers every
class's confidence. Training also dims, blurs and shifts digits slightly, so that the
background class does not swallow readable but imperfect samples (noisy, dim or soft
test digits stay > 85% confident).

We chose this over temperature scaling: calibrating on held-out *digits* says nothing
about images that are not digits; temperature fixes in-distribution calibration, not
out-of-distribution overconfidence.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.base import float_to_uint8, uint8_to_float
from ganforge.data.download import cache_dir
from ganforge.io import atomic_write_bytes

#: Bumped when the architecture or the training recipe changes: old caches are retrained.
FORMAT_VERSION = 1


class LeNet(nn.Module):
    """LeNet-style CNN (LeCun et al., 1998): two 5x5 conv + max-pool stages, two linear layers.

    ``conv(C->w) -> ReLU -> pool2 -> conv(w->2w) -> ReLU -> pool2 -> adaptive avg pool to
    4x4 -> linear(32w -> 128) -> ReLU -> linear(128 -> K [+1])``. The adaptive pool lets
    one architecture serve any resolution >= 4 (it is the identity at 16x16).

    Args:
        in_channels: C of the input images (1 for digits).
        resolution: H = W of the input images; checked in :func:`predict_proba`.
        num_classes: K real classes.
        background: add an output for a "not an image of any class" background class
            (index K). See the module docstring.
        width: channels of the first conv layer.

    Inputs are float (N, C, H, W) in [-1, 1]; ``forward`` returns logits (N, K) or
    (N, K + 1) with the background class.
    """

    def __init__(
        self,
        in_channels: int = 1,
        resolution: int = 16,
        num_classes: int = 10,
        background: bool = True,
        width: int = 16,
    ) -> None:
        super().__init__()
        if resolution < 4:
            raise ValueError(f"LeNet needs images of at least 4x4 pixels, got {resolution}")
        self.in_channels, self.resolution = in_channels, resolution
        self.num_classes, self.background, self.width = num_classes, background, width
        self.conv1 = nn.Conv2d(in_channels, width, 5, padding=2)
        self.conv2 = nn.Conv2d(width, 2 * width, 5, padding=2)
        self.fc1 = nn.Linear(2 * width * 16, 128)
        self.fc2 = nn.Linear(128, num_classes + int(background))
        #: facts about how it was trained (filled by :func:`digits_classifier`)
        self.info: dict[str, Any] = {}

    @property
    def num_outputs(self) -> int:
        """K, or K + 1 with the background class."""
        return self.num_classes + int(self.background)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (saved next to the weights)."""
        return {
            "in_channels": self.in_channels,
            "resolution": self.resolution,
            "num_classes": self.num_classes,
            "background": self.background,
            "width": self.width,
        }

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations: float (N, C, H, W) in [-1, 1] -> (N, 128)."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.adaptive_avg_pool2d(h, 4).flatten(1)
        return F.relu(self.fc1(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: (N, C, H, W) -> (N, num_outputs)."""
        return self.fc2(self.features(x))


# ---------------------------------------------------------------------------------------
# background ("not a digit") images


def _blur(x: torch.Tensor) -> torch.Tensor:
    """3x3 box blur of float (N, C, H, W), edges replicated."""
    c = x.shape[1]
    kernel = torch.full((c, 1, 3, 3), 1.0 / 9.0, dtype=x.dtype)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def background_images(
    n: int,
    shape: tuple[int, int, int],
    generator: torch.Generator,
    examples: torch.Tensor | None = None,
) -> torch.Tensor:
    """Images that are not of any class, for the background class.

    Eight kinds in equal parts: uniform noise; Gaussian noise (random mean and std);
    blank images (random grey level, 0 and 255 included); smooth noise (uniform noise
    at 2..H/2 pixels, bilinearly upscaled); sparse bright speckles on black; and, when
    ``examples`` are given, real images with their pixels shuffled, raw and blurred
    (same intensities as the data, no strokes), and means of 4..16 real images (the
    blurry average a generator that ignores its input converges to; a plain
    classifier calls the mean digit a digit with certainty).

    Args:
        n: number of images.
        shape: (C, H, W).
        generator: the only source of randomness (determinism).
        examples: uint8 (M, C, H, W) real images to shuffle, or None.

    Returns:
        uint8 (n, C, H, W).
    """
    c, h, w = shape
    kinds = 8 if examples is not None else 5
    kind = torch.randint(kinds, (n,), generator=generator)
    out = torch.empty(n, c, h, w)

    def rand(*size: int) -> torch.Tensor:
        return torch.rand(*size, generator=generator)

    for k in range(kinds):
        idx = (kind == k).nonzero().flatten()
        m = len(idx)
        if m == 0:
            continue
        if k == 0:  # uniform noise
            x = rand(m, c, h, w) * 255
        elif k == 1:  # Gaussian noise
            mean, std = rand(m, 1, 1, 1) * 255, 10 + rand(m, 1, 1, 1) * 118
            x = mean + std * torch.randn(m, c, h, w, generator=generator)
        elif k == 2:  # blank, with the extremes (black / white) made common
            level = rand(m, 1, 1, 1) * 255
            level[rand(m) < 0.3] = 0.0
            level[rand(m) < 0.1] = 255.0
            x = level.expand(m, c, h, w).clone()
        elif k == 3:  # smooth noise: low-resolution noise upscaled (blobs)
            x = torch.empty(m, c, h, w)
            sizes = torch.randint(2, max(3, h // 2 + 1), (m,), generator=generator)
            for i in range(m):
                s = int(sizes[i])
                x[i] = F.interpolate(
                    rand(1, c, s, s) * 255, size=(h, w), mode="bilinear", align_corners=False
                )[0]
        elif k == 4:  # sparse bright speckles on black
            p = 0.03 + rand(m, 1, 1, 1) * 0.3
            x = (rand(m, c, h, w) < p).float() * (128 + rand(m, c, h, w) * 127)
        elif k == 7:  # mean of 4..16 real images: the blob a mode-averaging generator makes
            assert examples is not None
            x = torch.empty(m, c, h, w)
            counts = torch.randint(4, 17, (m,), generator=generator)
            for i in range(m):
                pick = torch.randint(len(examples), (int(counts[i]),), generator=generator)
                x[i] = examples[pick].float().mean(dim=0)
        else:  # shuffled real images (k == 5 raw, k == 6 blurred)
            assert examples is not None
            pick = examples[torch.randint(len(examples), (m,), generator=generator)]
            flat = pick.float().flatten(1)
            perm = torch.argsort(rand(m, flat.shape[1]), dim=1)
            x = flat.gather(1, perm).view(m, c, h, w)
            if k == 6:
                x = _blur(x)
        out[idx] = x
    return out.round_().clamp_(0, 255).to(torch.uint8)


# ---------------------------------------------------------------------------------------
# training and prediction


def _random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of float (N, C, H, W) by up to ``max_shift`` pixels, filling with -1.

    -1 is black, the background of digits, so a shifted digit is still a valid digit.
    """
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    oy = torch.randint(2 * max_shift + 1, (n,), generator=generator)
    ox = torch.randint(2 * max_shift + 1, (n,), generator=generator)
    rows = (oy[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (ox[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    b = torch.arange(n)[:, None, None]
    # advanced indexing with the channel slice in between puts C last: (N, H, W, C)
    return padded.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2).contiguous()


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Training augmentation of float (N, C, H, W) in [-1, 1].

    Shifts of up to 1 pixel; half the images dimmed (intensity times U[0.4, 1] on
    the 0..1 scale) and a fifth mildly blurred (3x3 box blended in with weight U[0, 1]).
    Without it a dim or soft digit, which a generator easily makes and a person reads
    at once, was sent to the background class (25% confident for digits at 70%
    brightness).
    """
    n = len(x)
    x = _random_shift(x, 1, generator)
    gain = torch.where(
        torch.rand(n, 1, 1, 1, generator=generator) < 0.5,
        0.4 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator),
        torch.ones(n, 1, 1, 1),
    )
    x = (x + 1) * gain - 1  # scales the 0..1 intensity; black (-1) stays black
    mix = torch.where(
        torch.rand(n, 1, 1, 1, generator=generator) < 0.2,
        torch.rand(n, 1, 1, 1, generator=generator),
        torch.zeros(n, 1, 1, 1),
    )
    return torch.lerp(x, _blur(x), mix)


@contextlib.contextmanager
def _num_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op CPU threads (None: leave them as they are)."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int | None = None,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    background: bool = True,
    augment: bool = True,
    width: int = 16,
    num_threads: int | None = 1,
) -> LeNet:
    """Train a :class:`LeNet` on CPU, deterministically.

    The caller's global RNG is untouched: initialisation (``torch.manual_seed(seed)``)
    and dropout-free training run inside ``torch.random.fork_rng``, and shuffling,
    augmentation and background images draw from a private ``torch.Generator``. The
    same inputs and seed give bitwise identical weights (same torch build and threads).

    Args:
        images: uint8 (N, C, H, W), H = W.
        labels: int (N,) in [0, num_classes).
        num_classes: K (default ``labels.max() + 1``).
        epochs: passes over ``images``.
        batch_size: real images per step; with ``background`` a quarter as many
            background images are added to each step.
        lr: Adam learning rate, cosine-decayed to 0.
        seed: seeds initialisation and the private generator.
        background: train an extra "not of any class" output (see module docstring).
        augment: random translations of up to 1 pixel, dimming and mild blur (see
            ``_augment``), so that slightly imperfect samples still count as digits.
        width: see :class:`LeNet`.
        num_threads: torch CPU threads while training (restored afterwards); None
            keeps the caller's setting. One thread by default: the model is so small
            that threads buy little, the weights then do not depend on the machine's
            core count, and OpenMP threads on a shared, busy CPU can be 10-40x slower
            than one thread (measured: 115 s vs 8 s on 2 loaded cores).

    Returns:
        The trained model, in eval mode, on CPU.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(
            f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square, got {tuple(images.shape[-2:])}")
    labels = labels.long().cpu()
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be (N,) = ({len(images)},), got {tuple(labels.shape)}")
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    images = images.cpu()
    _, c, h, w = images.shape
    n_bg = max(1, batch_size // 4) if background else 0
    steps_per_epoch = math.ceil(len(images) / batch_size)
    total = max(1, epochs * steps_per_epoch)

    with torch.random.fork_rng(devices=[]), _num_threads(num_threads):
        torch.manual_seed(seed)
        model = LeNet(c, h, k, background=background, width=width)
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
        )
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(images), generator=g)
            for start in range(0, len(images), batch_size):
                idx = perm[start : start + batch_size]
                x, y = images[idx], labels[idx]
                if n_bg:
                    x = torch.cat([x, background_images(n_bg, (c, h, w), g, images)])
                    y = torch.cat([y, torch.full((n_bg,), k, dtype=torch.long)])
                x = uint8_to_float(x)
                if augment:
                    x = _augment(x, g)
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval()


@torch.no_grad()
def predict_logits(model: LeNet, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """All logits, background included: images (N, C, H, W) -> float (N, num_outputs).

    Float images in [-1, 1] are quantised with ``float_to_uint8`` first, like any
    image fed to a feature extractor in ganforge, so a generator cannot score with
    sub-quantum detail a saved PNG would not have.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (
        model.in_channels,
        model.resolution,
        model.resolution,
    ):
        raise ValueError(
            f"this classifier takes images of shape (N, {model.in_channels}, "
            f"{model.resolution}, {model.resolution}), got {tuple(images.shape)}; "
            "resize the samples or build a classifier for their resolution"
        )
    if images.is_floating_point():
        images = float_to_uint8(images)
    elif images.dtype != torch.uint8:
        raise TypeError(f"images must be float in [-1, 1] or uint8, got {images.dtype}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [
            model(uint8_to_float(images[i : i + batch_size].to(device))).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, model.num_outputs)


def predict_proba(model: LeNet, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Class probabilities: images (N, C, H, W), float in [-1, 1] or uint8 -> (N, K).

    With a background class, the softmax is taken over K + 1 outputs and the
    background column is dropped, so rows sum to ``1 - p(background)``: an image that
    is not a digit has low probability for every digit.
    """
    probs = predict_logits(model, images, batch_size).softmax(dim=1)
    return probs[:, : model.num_classes]


def accuracy(model: LeNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose arg-max output (background included) is ``labels``."""
    pred = predict_logits(model, images).argmax(dim=1)
    return float((pred == labels.cpu().long()).float().mean())


def confident_fraction(probs: torch.Tensor, threshold: float = 0.9) -> float:
    """Fraction of samples whose largest class probability is > ``threshold``.

    Args:
        probs: (N, K) from :func:`predict_proba`.
        threshold: confidence level.
    """
    if probs.dim() != 2 or len(probs) == 0:
        raise ValueError(f"probs must be a non-empty (N, K) tensor, got {tuple(probs.shape)}")
    return float((probs.max(dim=1).values > threshold).float().mean())


def digit_sample_score(samples: torch.Tensor, threshold: float = 0.9) -> dict[str, float]:
    """Are generated 16x16 samples digits? The honest check used for ``gan-digits``.

    Args:
        samples: (N, 1, 16, 16) floats in [-1, 1] (or uint8).

    Returns:
        ``confident``: fraction of samples given one digit class with probability >
        ``threshold`` by :func:`digits_classifier` (which has a "not a digit" class, so
        noise, blanks and blurred averages do not count); ``classes``: how many of the 10
        digits occur among those confident samples (a collapsed generator scores low).
    """
    probs = predict_proba(digits_classifier(int(samples.shape[-1])), samples)
    confident = probs.max(dim=1).values > threshold
    return {
        "confident": confident_fraction(probs, threshold),
        "classes": float(len(probs.argmax(dim=1)[confident].unique())),
    }


# ---------------------------------------------------------------------------------------
# the digits classifier, cached


def digits_uint8(resolution: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 8x8 digits as uint8 (1797, 1, R, R) and int64 labels (1797,).

    Exactly ganforge's ``digits`` dataset, so the classifier sees what the GAN learns from.
    """
    from ganforge.data.digits import digits

    ds = digits(resolution=resolution)  # type: ignore[arg-type]
    return ds.tensors["real"], ds.tensors["label"]


def digits_split(
    resolution: int = 16, test_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded train/test split of :func:`digits_uint8`: (x_train, y_train, x_test, y_test)."""
    x, y = digits_uint8(resolution)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = round(test_fraction * len(x))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def _digits_recipe(resolution: int, seed: int, epochs: int) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "dataset": "sklearn-digits",
        "resolution": resolution,
        "seed": seed,
        "epochs": epochs,
        "split": "randperm(seed=0), 20% test",
    }


def _load_cached(path: Path, recipe: dict[str, Any]) -> LeNet | None:
    """The cached model if ``path`` holds one trained with ``recipe``, else None."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("ganforge", "{}"))
            if meta.get("recipe") != recipe:
                return None
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
        model = LeNet(**meta["config"])
        model.load_state_dict(state)
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError):
        return None  # missing, truncated or from another version: retrain
    model.info = dict(meta, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    return model.eval()


def _save(model: LeNet, path: Path, meta: dict[str, Any]) -> None:
    """Save weights + JSON metadata as safetensors, atomically (temp file + os.replace)."""
    from safetensors.torch import save

    data = save(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        metadata={"ganforge": json.dumps(meta, sort_keys=True)},
    )
    atomic_write_bytes(path, data)


def digits_classifier(
    resolution: int = 16, seed: int = 0, epochs: int = 30, retrain: bool = False
) -> LeNet:
    """A :class:`LeNet` (with background class) for scikit-learn's digits at ``resolution``.

    Trained on 80% of the digits (see :func:`digits_split`) on first use, in a few
    seconds on a CPU, and cached in
    ``<cache_dir>/classifiers/digits-<resolution>.safetensors`` (safetensors weights,
    JSON metadata with the recipe and the held-out accuracy; no pickle). A cache
    written with another recipe, or unreadable, is retrained and replaced.

    The returned model has an ``info`` dict: ``test_accuracy`` on the held-out 20%,
    ``config``, ``recipe`` and the ``sha256`` of the cached file (for evaluation cards).
    """
    path = cache_dir() / "classifiers" / f"digits-{resolution}.safetensors"
    recipe = _digits_recipe(resolution, seed, epochs)

    def data() -> tuple[torch.Tensor, ...]:
        return digits_split(resolution)

    return _cached_classifier(path, recipe, data, epochs=epochs, seed=seed, retrain=retrain)


def _cached_classifier(
    path: Path,
    recipe: dict[str, Any],
    data: Any,
    *,
    epochs: int,
    seed: int,
    retrain: bool,
    batch_size: int = 64,
    width: int = 16,
    augment: bool = True,
) -> LeNet:
    """Load the classifier cached at ``path`` for ``recipe``, or train, save and return it.

    ``data()`` returns ``(x_train, y_train, x_test, y_test)`` (uint8 images, int labels);
    it is only called when training is needed.
    """
    if not retrain:
        model = _load_cached(path, recipe)
        if model is not None:
            return model
    x_train, y_train, x_test, y_test = data()
    model = train_classifier(
        x_train,
        y_train,
        num_classes=10,
        epochs=epochs,
        seed=seed,
        batch_size=batch_size,
        width=width,
        augment=augment,
    )
    meta = {
        "recipe": recipe,
        "config": model.config(),
        "test_accuracy": accuracy(model, x_test, y_test),
        "n_train": len(x_train),
        "n_test": len(x_test),
    }
    _save(model, path, meta)
    model.info = dict(meta, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    return model


#: Datasets a ``classifier:<dataset>`` can be trained on, with their training schedule.
#: MNIST-like sets are large: 3 epochs of 60,000 images at batch 128 (a few minutes on one
#: CPU core, once; cached) reach ~99% test accuracy. CIFAR-10 (32x32 only) gets a twice
#: as wide LeNet and no augmentation: its main use is a feature space for content losses
#: (SRGAN on CPU, where VGG is not available), which should see blur and dimming rather
#: than be trained to ignore them; the background class (noise, blanks, shuffled pixels,
#: means of images: blurry blobs) keeps it from calling such images a class. The keys
#: beyond epochs / batch size are in the cached recipe, so the older caches stay valid.
CLASSIFIER_DATASETS: dict[str, dict[str, int]] = {
    "digits": {"epochs": 30, "batch_size": 64},
    "mnist": {"epochs": 3, "batch_size": 128},
    "fashion-mnist": {"epochs": 3, "batch_size": 128},
    "cifar10": {"epochs": 10, "batch_size": 128, "width": 32, "augment": 0},
}


def dataset_classifier(
    dataset: str,
    resolution: int | None = None,
    root: str | None = None,
    seed: int = 0,
    retrain: bool = False,
) -> LeNet:
    """A :class:`LeNet` (with background class) trained by ganforge on ``dataset``, cached.

    Args:
        dataset: ``digits`` (scikit-learn, 16x16 by default), ``mnist`` or
            ``fashion-mnist`` (32x32 by default: ganforge's padded resolution), ``cifar10``
            (32x32, RGB; trained on the official pickles or the JPEG copy ``root`` names,
            which ``model.info["recipe"]`` does not tell apart: pass the same root).
        resolution: image size the classifier takes (digits: 8, 16, 32; MNIST-like: 28,
            32, 64; cifar10: 32).
        root: a local copy of the dataset (as ``data.root``); None: the cache or a download.
        seed: initialisation and shuffling seed (training is deterministic on CPU).
        retrain: ignore a cached copy.

    Trained on the train split (digits: a seeded 80%), tested on the test split (digits:
    the other 20%), cached as ``<cache_dir>/classifiers/<dataset>-<resolution>.safetensors``
    with the recipe and the test accuracy; ``model.info["sha256"]`` identifies the weights
    on evaluation cards.
    """
    if dataset not in CLASSIFIER_DATASETS:
        raise ValueError(
            f"no classifier recipe for dataset {dataset!r}; choose one of "
            f"{', '.join(CLASSIFIER_DATASETS)}."
        )
    sched = CLASSIFIER_DATASETS[dataset]
    if dataset == "digits":
        return digits_classifier(resolution or 16, seed=seed, retrain=retrain)
    from ganforge.data.cifar10 import cifar10
    from ganforge.data.mnist import fashion_mnist, mnist

    res = resolution or 32
    if dataset == "cifar10" and res != 32:
        raise ValueError(
            f"the cifar10 classifier takes 32x32 images (CIFAR-10's size), not {res}x{res}; "
            "resize the images to 32x32 or leave the resolution unset."
        )

    def loader(split: str) -> Any:
        if dataset == "cifar10":
            return cifar10(split, root)  # type: ignore[arg-type]
        load = mnist if dataset == "mnist" else fashion_mnist
        return load(split, root, res)  # type: ignore[arg-type]

    recipe = {
        "format_version": FORMAT_VERSION,
        "dataset": dataset,
        "resolution": res,
        "seed": seed,
        **sched,
        "split": "train / test",
    }

    def data() -> tuple[torch.Tensor, ...]:
        train, test = loader("train"), loader("test")
        return (
            train.tensors["real"],
            train.tensors["label"],
            test.tensors["real"],
            test.tensors["label"],
        )

    path = cache_dir() / "classifiers" / f"{dataset}-{res}.safetensors"
    return _cached_classifier(
        path,
        recipe,
        data,
        epochs=sched["epochs"],
        seed=seed,
        retrain=retrain,
        batch_size=sched["batch_size"],
        width=sched.get("width", 16),
        augment=bool(sched.get("augment", 1)),
    )
