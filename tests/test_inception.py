"""The FID Inception-v3: TF1 resize, weight mappings, loader safety and errors, and
agreement with the reference TorchScript network (when its file is on this machine)."""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import CheckpointError, GanforgeError
from ganforge.metrics import inception as inc
from ganforge.metrics.inception import (
    ENV_VAR,
    FID_WEIGHTS_URL,
    PYTORCH_FID_KEYS,
    TF_NAMES_KEYS,
    TF_NAMES_TORCHSCRIPT_SHA256,
    InceptionV3FID,
    load_inception,
    tf1_resize_bilinear,
)

torch.set_num_threads(2)

TS_WEIGHTS = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "weights"
    / "inception-2015-12-05-tfnames-torchscript.pt"
).resolve()
needs_ts_weights = pytest.mark.skipif(
    not TS_WEIGHTS.is_file(),
    reason=f"reference TorchScript Inception weights not present at {TS_WEIGHTS}",
)


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


# -- TF1 resize ---------------------------------------------------------------------------
def _slow_tf1_resize(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TensorFlow 1's resize_bilinear(align_corners=False), one pixel at a time, float32."""
    n, c, in_h, in_w = x.shape
    x = x.astype(np.float32)
    sy, sx = np.float32(in_h) / np.float32(out_h), np.float32(in_w) / np.float32(out_w)
    out = np.zeros((n, c, out_h, out_w), np.float32)
    for i in range(out_h):
        fy = np.float32(i) * sy
        y0 = int(np.floor(fy))
        y1, dy = min(y0 + 1, in_h - 1), np.float32(fy - np.floor(fy))
        for j in range(out_w):
            fx = np.float32(j) * sx
            x0 = int(np.floor(fx))
            x1, dx = min(x0 + 1, in_w - 1), np.float32(fx - np.floor(fx))
            top = x[:, :, y0, x0] + (x[:, :, y0, x1] - x[:, :, y0, x0]) * dx
            bottom = x[:, :, y1, x0] + (x[:, :, y1, x1] - x[:, :, y1, x0]) * dx
            out[:, :, i, j] = top + (bottom - top) * dy
    return out


def test_resize_ramp_has_no_half_pixel_offset() -> None:
    ramp = torch.arange(32, dtype=torch.float32).expand(1, 1, 32, 32)
    out = tf1_resize_bilinear(ramp, (299, 299))
    assert out.shape == (1, 1, 299, 299)
    assert out[0, 0, 0, :3].tolist() == pytest.approx([0.0, 0.10702341, 0.21404682], abs=1e-6)
    j = torch.arange(299, dtype=torch.float32)
    expected = (j * 32 / 299).clamp(max=31)  # source coordinate j * in / out, last one clamped
    torch.testing.assert_close(out[0, 0, 0], expected, atol=1e-5, rtol=0)
    assert out[0, 0, 0, -1].item() == 31.0
    assert torch.equal(out[0, 0, 0], out[0, 0, 123])  # constant along height


@pytest.mark.parametrize(("shape", "size"), [((2, 3, 7, 5), (11, 13)), ((1, 2, 20, 17), (6, 9))])
def test_resize_matches_slow_reference(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 255
    fast = tf1_resize_bilinear(x, size).numpy()
    slow = _slow_tf1_resize(x.numpy(), *size)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-4)


def test_resize_identity_and_half_pixel_difference() -> None:
    x = _images(2, 32, seed=2).float()
    assert tf1_resize_bilinear(x, (32, 32)) is x
    ours = tf1_resize_bilinear(x, (299, 299))
    torch_half_pixel = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    # The half-pixel convention shifts the image by ~0.45 source pixels: on noise images
    # that is tens of grey levels; it must never be mistaken for the TF1 resize.
    assert (ours - torch_half_pixel).abs().mean() > 5.0
    with pytest.raises(TypeError, match="float"):
        tf1_resize_bilinear(x.to(torch.uint8), (299, 299))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        tf1_resize_bilinear(x[0], (299, 299))


# -- parameter-name mappings --------------------------------------------------------------
def test_mappings_cover_every_parameter_once() -> None:
    ours = set(InceptionV3FID(with_logits=True).state_dict())
    assert set(PYTORCH_FID_KEYS.values()) == ours
    assert len(PYTORCH_FID_KEYS) == len(ours)  # one-to-one
    no_logits = set(InceptionV3FID(with_logits=False).state_dict())
    gammas = {k for k in no_logits if k.endswith(".gamma")}
    assert len(gammas) == 94  # one batch norm per convolution
    assert set(TF_NAMES_KEYS.values()) == no_logits - gammas
    assert len(TF_NAMES_KEYS) == len(no_logits) - len(gammas)
    # documented examples: the second conv of the double-7x7 branch of Mixed_6b
    assert PYTORCH_FID_KEYS["Mixed_6b.branch7x7dbl_2.bn.running_var"] == "c1.b7dbl_7x1a.var"
    assert TF_NAMES_KEYS["net.layers.mixed_4.tower_1.conv_1.mean"] == "c1.b7dbl_7x1a.mean"
    assert PYTORCH_FID_KEYS["Mixed_7c.branch3x3dbl_3b.conv.weight"] == "e2.b3dbl_3x1.weight"
    assert TF_NAMES_KEYS["net.layers.mixed_10.tower_1_mixed_conv_1.weight"] == (
        "e2.b3dbl_3x1.weight"
    )
    assert PYTORCH_FID_KEYS["fc.weight"] == "logits.weight"


# -- pytorch-fid state dicts ----------------------------------------------------------------
def _randomised_model(seed: int) -> InceptionV3FID:
    """Random weights *and* batch-norm statistics, so that a wrong mapping shows."""
    torch.manual_seed(seed)
    model = InceptionV3FID(with_logits=True)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith(".var"):
                t.uniform_(0.5, 2.0)
            elif name.endswith((".mean", ".beta")):
                t.normal_(0.0, 0.1)
            elif name.endswith(".gamma"):
                t.uniform_(0.8, 1.2)
            elif name == "logits.weight":
                t.normal_(0.0, 0.05)
    return model.eval()


def _as_pytorch_fid(model: InceptionV3FID, *, with_fc: bool) -> dict[str, torch.Tensor]:
    ours_to_theirs = {v: k for k, v in PYTORCH_FID_KEYS.items()}
    state = {ours_to_theirs[k]: v.clone() for k, v in model.state_dict().items()}
    for key in list(state):  # torchvision's BatchNorm2d bookkeeping, as in the real file
        if key.endswith(".bn.running_var"):
            state[key.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    if with_fc:
        state["fc.bias"] = torch.randn(1008)  # present in the file, unused by the logits
    else:
        del state["fc.weight"]
    return state


def test_pytorch_fid_state_dict_loads_with_and_without_logits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _randomised_model(seed=5)
    images = _images(2, 32, seed=3)
    expected = source(images)

    def no_jit(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_inception must not call torch.jit.load")

    monkeypatch.setattr(torch.jit, "load", no_jit)
    path = tmp_path / "pt_inception.pth"
    torch.save(_as_pytorch_fid(source, with_fc=True), path)
    model = load_inception(path)
    assert model.has_logits and not model.training
    assert model.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.weights_source == str(path)
    assert all(not p.requires_grad for p in model.parameters())
    out = model(images)
    assert set(out) == {"pool", "logits"}
    assert out["pool"].shape == (2, 2048) and out["pool"].dtype == torch.float32
    torch.testing.assert_close(out["pool"], expected["pool"], rtol=0, atol=0)
    w = source.logits.weight
    torch.testing.assert_close(out["logits"], out["pool"] @ w.T, rtol=1e-5, atol=1e-5)

    torch.save(_as_pytorch_fid(source, with_fc=False), path)
    model = load_inception(path)
    assert not model.has_logits
    out = model(images)
    assert set(out) == {"pool"}
    torch.testing.assert_close(out["pool"], expected["pool"], rtol=0, atol=0)


def test_own_state_dict_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _randomised_model(seed=6)
    path = tmp_path / "ours.pt"
    torch.save(source.state_dict(), path)
    monkeypatch.setenv(ENV_VAR, str(path))
    model = load_inception()
    assert model.weights_source == str(path) and model.has_logits
    for name, t in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], t), name


def test_forward_input_checks_and_grey_images() -> None:
    model = _randomised_model(seed=7)
    grey = _images(2, 20, seed=4)[:, :1]
    torch.testing.assert_close(model(grey)["pool"], model(grey.repeat(1, 3, 1, 1))["pool"])
    with pytest.raises(TypeError, match="uint8"):
        model(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.zeros(1, 2, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="299"):
        model.forward_normalized(torch.zeros(1, 3, 64, 64))


def test_folded_weights_follow_loads_and_edits() -> None:
    # The batch norm is folded into cached conv weights: a load or an in-place edit
    # after a forward pass must not leave stale weights behind.
    images = _images(1, 16, seed=11)
    a, b = _randomised_model(seed=12), _randomised_model(seed=13)
    a(images)
    a.load_state_dict(b.state_dict())
    torch.testing.assert_close(a(images)["pool"], b(images)["pool"], rtol=0, atol=0)
    with torch.no_grad():
        a.e2.pool_proj.beta.add_(1.0)
    assert not torch.equal(a(images)["pool"], b(images)["pool"])


# -- errors ---------------------------------------------------------------------------------
def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist") as err:
        load_inception(tmp_path / "nope.pth")
    assert FID_WEIGHTS_URL in str(err.value) and ENV_VAR in str(err.value)

    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="Cannot read the Inception weights") as err:
        load_inception(corrupt)
    assert "corrupt" in str(err.value) and FID_WEIGHTS_URL in str(err.value)


def test_state_dict_errors(tmp_path: Path) -> None:
    state = _as_pytorch_fid(_randomised_model(seed=8), with_fc=True)
    path = tmp_path / "w.pth"

    incomplete = dict(state)
    del incomplete["Mixed_6b.branch7x7dbl_2.bn.running_var"]
    torch.save(incomplete, path)
    with pytest.raises(CheckpointError, match="lack 1 parameter") as err:
        load_inception(path)
    assert "c1.b7dbl_7x1a.var" in str(err.value)

    imagenet = dict(state, **{"fc.weight": torch.zeros(1000, 2048)})
    torch.save(imagenet, path)
    with pytest.raises(CheckpointError, match="torchvision's ImageNet"):
        load_inception(path)

    torch.save(dict(state, **{"AuxLogits.fc.weight": torch.zeros(1)}), path)
    with pytest.raises(CheckpointError, match=r"not part of the FID Inception-v3: AuxLogits"):
        load_inception(path)

    torch.save({"encoder.weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an Inception-v3 weight file"):
        load_inception(path)


def _torchscript_like_zip(path: Path, data_pkl: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/code/__torch__/m.py", "")
        z.writestr("archive/constants.pkl", pickle.dumps(()))


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_torchscript_reader_refuses_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "evil.pt"
    _torchscript_like_zip(path, pickle.dumps({"x": _Evil()}, protocol=2))
    with pytest.raises(CheckpointError, match=r"refusing to load (__builtin__|builtins)\.print"):
        load_inception(path)
    assert "pwned" not in capsys.readouterr().out

    _torchscript_like_zip(path, b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="Cannot read the Inception weights"):
        load_inception(path)


def test_cache_download_and_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(inc, "cache_dir", lambda: tmp_path / "cache")
    with pytest.raises(CheckpointError, match="not in the cache") as err:
        load_inception(download=False)
    assert FID_WEIGHTS_URL in str(err.value)

    blob = io.BytesIO()
    torch.save(_as_pytorch_fid(_randomised_model(seed=9), with_fc=True), blob)
    payload = blob.getvalue()
    calls = []

    def fake_download(url: str, dest: Path, sha256: str | None = None, **kw: object) -> Path:
        calls.append((url, sha256))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(payload)
        return Path(dest)

    monkeypatch.setattr(inc, "download_file", fake_download)
    # the real file's checksum is pinned; make the fake payload the "canonical" one
    monkeypatch.setattr(inc, "FID_WEIGHTS_SHA256", hashlib.sha256(payload).hexdigest())
    model = load_inception()
    assert calls == [(FID_WEIGHTS_URL, inc.FID_WEIGHTS_SHA256)]
    assert model.weights_source == FID_WEIGHTS_URL and model.has_logits
    load_inception()  # now from the cache
    assert len(calls) == 1

    cached = tmp_path / "cache" / "weights" / inc.FID_WEIGHTS_FILENAME
    cached.write_bytes(payload[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match=r"corrupt\. Delete it") as err:
        load_inception()
    assert isinstance(err.value, GanforgeError)


# -- the real weights: agreement with the reference TorchScript network --------------------
@pytest.fixture(scope="module")
def real_models() -> tuple[InceptionV3FID, torch.jit.ScriptModule]:
    with pytest.MonkeyPatch.context() as mp:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("the TorchScript weights must be read without torch.(jit.)load")

        mp.setattr(torch.jit, "load", refuse)
        mp.setattr(torch, "load", refuse)
        ours = load_inception(TS_WEIGHTS)
    with warnings.catch_warnings():  # torch 2.13 deprecates torch.jit.load; fine in a test
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = torch.jit.load(str(TS_WEIGHTS), map_location="cpu").eval()
    return ours, reference


def _relative_errors(ours: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per image: ||ours - ref||_2 / ||ref||_2 over the 2048 features."""
    return (ours - ref).norm(dim=1) / ref.norm(dim=1)


@needs_ts_weights
def test_real_weights_attributes(real_models: tuple[InceptionV3FID, object]) -> None:
    ours, _ = real_models
    assert ours.weights_sha256 == TF_NAMES_TORCHSCRIPT_SHA256
    assert ours.weights_source == str(TS_WEIGHTS)
    assert not ours.has_logits and ours.logits is None


@needs_ts_weights
@pytest.mark.parametrize("size", [299, 32])
def test_real_weights_match_reference_torchscript(
    real_models: tuple[InceptionV3FID, torch.jit.ScriptModule], size: int
) -> None:
    ours, reference = real_models
    images = _images(2, size, seed=10 + size)
    with torch.inference_mode():
        # the reference takes the graph's input: TF1-resized, (x - 128) / 128
        ref_in = (tf1_resize_bilinear(images.float(), (299, 299)) - 128) / 128
        ref = reference(ref_in)
        out = ours(images)
        assert set(out) == {"pool"}
        assert out["pool"].shape == (2, 2048)
        assert _relative_errors(out["pool"], ref).max() < 1e-5
        ours.channels_last = False  # the plain layout gives the same numbers
        try:
            assert _relative_errors(ours(images)["pool"], ref).max() < 1e-5
        finally:
            ours.channels_last = True
