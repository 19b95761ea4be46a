"""Tests for ganforge.metrics.classifier: the digits classifier used to check samples."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from ganforge.data.base import uint8_to_float
from ganforge.metrics.classifier import (
    LeNet,
    accuracy,
    background_images,
    confident_fraction,
    digits_classifier,
    digits_split,
    digits_uint8,
    predict_proba,
    train_classifier,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private GANFORGE_DATA for the module (trains the classifier once, ~3 s)."""
    root = tmp_path_factory.mktemp("ganforge-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANFORGE_DATA", str(root))
        yield root


@pytest.fixture(scope="module")
def clf(cache):
    return digits_classifier(16)


@pytest.fixture(scope="module")
def split():
    return digits_split(16)


def test_lenet_shapes():
    model = LeNet(in_channels=3, resolution=28, num_classes=7, background=False)
    x = torch.zeros(5, 3, 28, 28)
    assert model(x).shape == (5, 7)
    assert model.features(x).shape == (5, 128)
    assert LeNet(1, 16, 10, background=True)(torch.zeros(2, 1, 16, 16)).shape == (2, 11)
    with pytest.raises(ValueError, match="4x4"):
        LeNet(1, 2, 10)


def test_digits_upscaling_matches_dataset_convention():
    x8, y = digits_uint8(8)
    x16, y16 = digits_uint8(16)
    assert x8.shape == (1797, 1, 8, 8) and x16.shape == (1797, 1, 16, 16)
    assert x8.dtype == x16.dtype == torch.uint8
    assert torch.equal(y, y16) and y.min() == 0 and y.max() == 9
    assert x8.max() == 255 and x8.min() == 0  # 16 -> 255
    # 0..16 -> 0..255, bilinear (align_corners=False) on floats, then rounded
    from sklearn.datasets import load_digits

    raw = torch.as_tensor(load_digits().images[:3], dtype=torch.float32).unsqueeze(1)
    expected = F.interpolate(raw * (255 / 16), size=(16, 16), mode="bilinear", align_corners=False)
    assert torch.equal(x16[:3], expected.round().to(torch.uint8))


def test_split_is_disjoint_and_fixed(split):
    x_train, _, x_test, y_test = split
    assert len(x_train) + len(x_test) == 1797
    assert len(x_test) == round(0.2 * 1797)
    again = digits_split(16)
    assert torch.equal(again[2], x_test) and torch.equal(again[3], y_test)
    # no test image appears among the training images
    train_rows = {tuple(r.tolist()) for r in x_train.flatten(1)}
    overlap = sum(tuple(r.tolist()) in train_rows for r in x_test.flatten(1))
    assert overlap <= 3  # sklearn's digits hold a few exact duplicates


def test_heldout_accuracy_and_confidence(clf, split):
    _, _, x_test, y_test = split
    acc = accuracy(clf, x_test, y_test)
    assert acc > 0.95
    assert clf.info["test_accuracy"] == pytest.approx(acc)
    # real digits, as uint8 or as float in [-1, 1], are recognised with confidence
    probs = predict_proba(clf, uint8_to_float(x_test))
    assert probs.shape == (len(x_test), 10)
    assert torch.allclose(probs, predict_proba(clf, x_test))
    assert confident_fraction(probs) > 0.85
    assert (probs.argmax(1) == y_test).float().mean() > 0.95
    # the background class must not swallow imperfect but readable digits either
    x = uint8_to_float(x_test)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(
        -1, 1
    )
    assert confident_fraction(predict_proba(clf, noisy)) > 0.8
    assert confident_fraction(predict_proba(clf, (x + 1) * 0.7 - 1)) > 0.8  # 70% brightness


def _garbage(n: int = 512) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(123)  # not the training seed
    x_train = digits_uint8(16)[0]
    return {
        "uniform": torch.rand(n, 1, 16, 16, generator=g) * 2 - 1,
        "normal": torch.randn(n, 1, 16, 16, generator=g).clamp(-1, 1),
        "blank -1": torch.full((n, 1, 16, 16), -1.0),
        "blank 0": torch.zeros(n, 1, 16, 16),
        "blank +1": torch.ones(n, 1, 16, 16),
        "blank random": (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1).expand(n, 1, 16, 16),
        "smooth noise": F.interpolate(
            torch.rand(n, 1, 4, 4, generator=g) * 2 - 1, size=16, mode="bilinear"
        ),
        "mean digit": uint8_to_float(x_train).mean(0, keepdim=True).expand(n, 1, 16, 16),
        # not in the background recipe at all: inverted digits and a checkerboard
        "inverted digits": -uint8_to_float(x_train[:n]),
        "checkerboard": ((torch.arange(16)[:, None] + torch.arange(16)) % 2 * 2.0 - 1).expand(
            n, 1, 16, 16
        ),
    }


def test_garbage_is_not_confidently_a_digit(clf):
    # the sample check (> 70% confident) must not pass for noise or blank images
    fractions = {k: confident_fraction(predict_proba(clf, v)) for k, v in _garbage().items()}
    bad = {k: f for k, f in fractions.items() if f >= 0.2}
    assert not bad, f"confidently classified as digits: {bad}"
    assert max(fractions.values()) < 0.05


def test_confident_fraction():
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.0, 0.91]])
    assert confident_fraction(probs) == 0.5  # 0.9 is not > 0.9
    assert confident_fraction(probs, threshold=0.4) == 1.0
    with pytest.raises(ValueError):
        confident_fraction(torch.zeros(0, 10))


def test_predict_proba_rejects_wrong_shape(clf):
    with pytest.raises(ValueError, match="resize"):
        predict_proba(clf, torch.zeros(2, 1, 28, 28))


def test_cache_round_trip(clf, cache):
    path = cache / "classifiers" / "digits-16.safetensors"
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["digits-16.safetensors"]
    assert path.read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle
    loaded = digits_classifier(16)  # from the cache: no training
    assert loaded is not clf
    for (k, a), (k2, b) in zip(clf.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert loaded.info["sha256"] == clf.info["sha256"]
    assert loaded.info["test_accuracy"] == clf.info["test_accuracy"]


def test_corrupt_cache_is_retrained(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    path = tmp_path / "classifiers" / "digits-8.safetensors"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    model = digits_classifier(8, epochs=1)
    assert model.resolution == 8
    assert os.path.getsize(path) > 1000
    assert digits_classifier(8, epochs=1).info["sha256"] == model.info["sha256"]


def test_training_is_deterministic_and_leaves_global_rng_alone(split):
    x_train, y_train, _, _ = split
    x, y = x_train[:256], y_train[:256]
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a = train_classifier(x, y, num_classes=10, epochs=1, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    b = train_classifier(x, y, num_classes=10, epochs=1, seed=7)
    c = train_classifier(x, y, num_classes=10, epochs=1, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_background_images_are_valid_and_seeded():
    examples = digits_uint8(16)[0][:50]
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = background_images(64, (1, 16, 16), g1, examples)
    b = background_images(64, (1, 16, 16), g2, examples)
    assert a.dtype == torch.uint8 and a.shape == (64, 1, 16, 16)
    assert torch.equal(a, b)
    assert background_images(8, (3, 8, 8), g1).shape == (8, 3, 8, 8)


def test_train_classifier_input_errors():
    with pytest.raises(ValueError, match="uint8"):
        train_classifier(torch.zeros(4, 1, 8, 8), torch.zeros(4))
    with pytest.raises(ValueError, match="labels"):
        train_classifier(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3))


def test_training_restores_thread_count(split):
    x_train, y_train, _, _ = split
    before = torch.get_num_threads()
    train_classifier(x_train[:64], y_train[:64], num_classes=10, epochs=1, num_threads=1)
    assert torch.get_num_threads() == before


# CIFAR-10's classes in label order
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
CIFAR_CLASSES += ("dog", "frog", "horse", "ship", "truck")


@pytest.fixture
def tiny_cifar(tmp_path):
    """A CIFAR-10 JPEG copy (``<split>/<class>/*.jpg``) of 2 flat-coloured images per class
    and split: the layout the cifar10 loader reads, in a few KB."""
    from io import BytesIO

    from PIL import Image

    for split in ("train", "test"):
        for k, cls in enumerate(CIFAR_CLASSES):
            folder = tmp_path / "cifar" / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                buf = BytesIO()
                colour = (25 * k, 255 - 25 * k, 120 * i)
                Image.new("RGB", (32, 32), colour).save(buf, format="JPEG", quality=90)
                (folder / f"{i}.jpg").write_bytes(buf.getvalue())
    return tmp_path / "cifar"


def test_cifar10_classifier_trains_on_a_root_and_is_cached(tiny_cifar, monkeypatch, tmp_path):
    from ganforge.algorithms.srgan import content_network
    from ganforge.metrics.classifier import CLASSIFIER_DATASETS, dataset_classifier

    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "cache"))
    clf = dataset_classifier("cifar10", root=str(tiny_cifar))
    assert clf.config() == {
        "in_channels": 3,
        "resolution": 32,
        "num_classes": 10,
        "background": True,
        "width": CLASSIFIER_DATASETS["cifar10"]["width"],
    }
    assert clf.info["recipe"]["augment"] == 0 and clf.info["n_train"] == 20
    assert 0.0 <= clf.info["test_accuracy"] <= 1.0
    path = tmp_path / "cache" / "classifiers" / "cifar10-32.safetensors"
    assert path.is_file()
    # cached: a second call (and SRGAN's content network) reads it without the data
    again = dataset_classifier("cifar10", root=str(tmp_path / "nowhere"))
    assert again.info["sha256"] == clf.info["sha256"]
    phi = content_network("classifier:cifar10", root=str(tmp_path / "nowhere"))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert phi(x).shape == (2, 2 * clf.width, 16, 16)  # conv2 after ReLU, before the pool
    with pytest.raises(ValueError, match="32x32"):
        dataset_classifier("cifar10", resolution=28, root=str(tiny_cifar))
