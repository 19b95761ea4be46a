"""The evaluation pipeline: sources, streaming, reference cache, cards, eval/compare, train.eval."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ganforge import registry
from ganforge.cli import main
from ganforge.engine.run import train
from ganforge.errors import ConfigError, GanforgeError, UnknownNameError
from ganforge.metrics import evaluate as ev
from ganforge.metrics.cards import Card, compare_runs, differences, load_cards
from ganforge.metrics.evaluate import DatasetSource, GeneratorSource, evaluate
from ganforge.metrics.features import build_extractor, parse_spec, to_uint8
from ganforge.reports.images import to_pil

registry.load_all()


def _ring8(n: int = 4000, seed: int = 0) -> DatasetSource:
    spec = {"name": "ring8", "n": n, "seed": seed}
    return DatasetSource(registry.DATASETS.build(spec, "d"), spec)


def _resampler(src: DatasetSource, shift: float = 0.0) -> GeneratorSource:
    """A 'generator' that resamples a dataset (plus a shift): a known-good sampler."""
    real = src.dataset.tensors["real"]

    def sample(n: int, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return real[torch.randint(len(real), (n,), generator=g)] + shift

    return GeneratorSource(sample, src.kind, {"source": "resampler", "shift": shift})


# -- quantisation and extractors ---------------------------------------------------------------
def test_quantisation_rounds_half_up_once() -> None:
    # x = 0 is exactly half-way ((0 + 1) * 127.5 = 127.5): round half up gives 128, where
    # truncation (uint8 cast) gives 127; -1 and 1 map to 0 and 255.
    x = torch.tensor([0.0, -1.0, 1.0, -0.5]).view(1, 1, 2, 2)
    assert to_uint8(x).flatten().tolist() == [128, 0, 255, 64]
    assert to_uint8(torch.tensor([-3.0, 3.0]).view(1, 1, 1, 2)).flatten().tolist() == [0, 255]
    u = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(u), u)  # real uint8 data passes unchanged


def test_extractor_specs_and_errors() -> None:
    assert parse_spec("classifier:mnist") == {"name": "classifier", "dataset": "mnist"}
    assert parse_spec("inception-fid") == {"name": "inception-fid"}
    with pytest.raises(ConfigError, match="needs its dataset"):
        parse_spec("classifier")
    with pytest.raises(ConfigError, match="takes no ':' argument"):
        parse_spec("identity:x")
    with pytest.raises(UnknownNameError, match="Did you mean 'inception-fid'"):
        build_extractor("inception-fdi")
    with pytest.raises(ConfigError, match="dataset"):
        build_extractor("classifier:svhn")


def test_classifier_extractor_on_digits() -> None:
    ext = build_extractor("classifier:digits")
    x = registry.DATASETS.build({"name": "digits"}, "d").tensors["real"][:50]
    out = ext(x)
    assert out["features"].shape == (50, 128) and out["logits"].shape == (50, 10)
    assert ext.card()["weights_sha256"] and len(ext.card()["weights_sha256"]) == 64
    # float input in [-1, 1] is quantised first: same result as the uint8 images
    out2 = ext(x.float() / 127.5 - 1)
    assert torch.equal(out["features"], out2["features"])
    with pytest.raises(ConfigError, match="takes images of shape"):
        ext(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


def test_inception_extractor_wraps_the_real_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
    path = weights / "inception-2015-12-05-tfnames-torchscript.pt"
    if not path.is_file():
        pytest.skip(f"Inception weights not found at {path}")
    monkeypatch.setenv("GANFORGE_INCEPTION_WEIGHTS", str(path))
    ext = build_extractor("inception-fid", batch_size=2)
    x = registry.DATASETS.build({"name": "digits"}, "d").tensors["real"][:3]  # grey 16x16
    out = ext(x)
    assert out["features"].shape == (3, 2048) and "logits" not in out
    assert (
        torch.isfinite(out["features"]).all() and float(out["features"].min()) >= 0
    )  # avg pool of ReLUs
    card = ext.card()
    assert card["weights_sha256"].startswith("7ff4a85c") and "TF1 bilinear" in card["resize"]
    # the TorchScript copy has no 1008-way layer: IS says so instead of failing obscurely
    spec = {"name": "digits"}
    src = DatasetSource(registry.DATASETS.build(spec, "d"), spec)
    with pytest.raises(GanforgeError, match="no class logits"):
        evaluate(src, None, ["is"], n=2, extractor="inception-fid")


# -- the pipeline ---------------------------------------------------------------------------
def test_same_distribution_scores_near_zero_and_shift_is_exact() -> None:
    real = _ring8(4000, seed=1)
    same = evaluate(_resampler(_ring8(4000)), real, ["fid", "mode-coverage"], n=2000)
    fid, cov = same
    assert 0 <= fid.value < 0.01
    assert cov.values["modes_covered"] == 8 and cov.values["high_quality"] > 0.97
    # translating the fakes by t leaves the covariances alone and changes the mean term:
    # FID(x + t) - FID(x) = |t|^2 + 2 t . (mu_fake - mu_real), exactly.
    src = _resampler(real)
    base = evaluate(src, real, ["fid"], n=2000)[0].value
    shifted = evaluate(_resampler(real, shift=0.5), real, ["fid"], n=2000)[0].value
    mu_f = torch.cat(list(src.batches(2000, 0))).double().mean(0)
    mu_r = real.dataset.tensors["real"][real.indices(2000, 0)].double().mean(0)
    t = torch.full((2,), 0.5, dtype=torch.float64)
    expected = base + float(t @ t + 2 * t @ (mu_f - mu_r))
    assert shifted == pytest.approx(expected, rel=1e-6)


def test_cards_record_how_and_differences_name_fields() -> None:
    real = _ring8(4000, seed=1)
    a = evaluate(_resampler(_ring8()), real, ["fid", "kid"], n=1000, seed=3)
    b = evaluate(_resampler(_ring8()), real, ["fid"], n=500, seed=3)[0]
    fid = a[0]
    assert fid.extractor == "identity" and fid.n_fake == 1000 and fid.n_real == 1000
    assert fid.reference["data"]["name"] == "ring8" and fid.seeds["fake"] == 3
    assert {"torch", "numpy", "ganforge"} <= set(fid.versions)
    diff = differences(fid, b)
    assert any(d.startswith("n_fake: 1000 vs 500") for d in diff)
    assert differences(fid, Card.from_dict(fid.to_dict())) == []
    kid = a[1]
    assert set(kid.values) >= {"kid", "kid_std"} and kid.params["subset_size"] == 1000


def test_stream_is_reproducible_and_chunked_independently_of_batch_size() -> None:
    calls: list[tuple[int, int]] = []

    def sample(n: int, seed: int) -> torch.Tensor:
        calls.append((n, seed))
        return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))

    src = GeneratorSource(sample, "points")
    a = torch.cat(list(src.batches(600, 7, 100)))
    b = torch.cat(list(src.batches(600, 7, 999)))
    assert torch.equal(a, b) and [c[0] for c in calls[:3]] == [256, 256, 88]
    assert not torch.equal(a, torch.cat(list(src.batches(600, 8, 100))))


def test_reference_statistics_are_cached_and_a_corrupt_cache_is_recomputed(
    monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    real = _ring8(3000, seed=5)
    first = evaluate(_resampler(real), real, ["fid"], n=1000)[0]
    files = list((isolated_cache / "stats").glob("*.safetensors"))
    assert len(files) >= 1
    calls = []
    orig = ev.extract

    def counting(source: Any, *a: Any, **k: Any) -> Any:
        calls.append(source)
        return orig(source, *a, **k)

    monkeypatch.setattr(ev, "extract", counting)
    again = evaluate(_resampler(real), real, ["fid"], n=1000)[0]
    assert again.value == first.value and calls == [calls[0]] and calls[0] is not real
    for f in files:
        f.write_bytes(b"garbage")
    calls.clear()
    third = evaluate(_resampler(real), real, ["fid"], n=1000)[0]
    assert third.value == pytest.approx(first.value, rel=1e-12) and len(calls) == 2


def test_nan_samples_and_bad_requests_fail_clearly() -> None:
    real = _ring8(1000)

    def nan_sample(n: int, seed: int) -> torch.Tensor:
        return torch.full((n, 2), float("nan"))

    with pytest.raises(GanforgeError, match="NaN or infinite"):
        evaluate(GeneratorSource(nan_sample, "points"), real, ["fid"], n=10)
    with pytest.raises(UnknownNameError, match="Did you mean 'fid'"):
        evaluate(_resampler(real), real, ["fdi"], n=10)
    with pytest.raises(ConfigError, match="has only 1000"):
        evaluate(_resampler(real), real, ["fid"], n=10, n_real=5000)
    with pytest.raises(ConfigError, match="give a reference"):
        evaluate(_resampler(real), None, ["fid"], n=10)


def test_inception_score_requires_logits_with_a_clear_message() -> None:
    real = _ring8(1000)
    with pytest.raises(GanforgeError, match="no class logits"):
        evaluate(_resampler(real), real, ["is"], n=20)


def test_stacked_mnist_dataset_and_metric(
    shared_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(shared_datasets / "mnist")
    spec = {"name": "stacked-mnist", "n": 300, "split": "test", "root": root}
    ds = registry.DATASETS.build(spec, "d")
    assert ds.tensors["real"].shape == (300, 3, 32, 32) and ds.num_classes == 1000
    mnist = registry.DATASETS.build({"name": "mnist", "split": "test", "root": root}, "d")
    # every channel is an MNIST test image whose label is the matching digit of the mode
    lookup = {img.numpy().tobytes(): int(y) for img, y in zip(mnist.tensors["real"][:, 0],
                                                             mnist.tensors["label"])}  # fmt: skip
    digits = torch.tensor(
        [[lookup[ds.tensors["real"][i, c].numpy().tobytes()] for c in range(3)] for i in range(300)]
    )
    assert torch.equal(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], ds.tensors["label"])

    # the metric, with an exact stand-in for the per-channel MNIST classifier (training the
    # real one takes minutes): modes = label histogram of the 300 samples
    class Exact:
        def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            y = torch.tensor([lookup[img[0].numpy().tobytes()] for img in x])
            return {"logits": torch.nn.functional.one_hot(y, 10).float()}

        def card(self) -> dict[str, Any]:
            return {"extractor": "exact-lookup", "weights_sha256": None}

    import ganforge.metrics.features as features

    monkeypatch.setattr(features, "build_extractor", lambda *a, **k: Exact())
    card = evaluate(DatasetSource(ds, spec), None, ["stacked-mnist"], n=300)[0]
    counts = np.bincount(ds.tensors["label"].numpy(), minlength=1000)
    q = counts[counts > 0] / 300
    assert card.values["modes_covered"] == int((counts > 0).sum())
    assert card.values["kl"] == pytest.approx(float(np.sum(q * np.log(1000 * q))), rel=1e-9)
    assert card.extractor == "exact-lookup (per channel)"


def test_ms_ssim_is_scored_per_class_for_labelled_samples() -> None:
    spec = {"name": "digits"}
    src = DatasetSource(registry.DATASETS.build(spec, "d"), spec)
    card = evaluate(src, None, [{"name": "ms-ssim", "n_pairs": 50}], n=400)[0]
    assert 0 < card.value < 1 and set(card.values["per_class"]) == {str(k) for k in range(10)}
    # digits of one class look more alike than digits of any two classes
    assert card.values["class_mean"] > card.value


def test_birthday_metric_estimates_a_planted_support_and_saves_pairs(tmp_path: Path) -> None:
    digits = registry.DATASETS.build({"name": "digits", "resolution": 8}, "d").tensors["real"]
    pool = digits[:60].float() / 127.5 - 1  # a "generator" with exactly 60 distinct outputs

    def sample(n: int, seed: int) -> torch.Tensor:
        return pool[torch.randint(60, (n,), generator=torch.Generator().manual_seed(seed))]

    ref = {"name": "digits", "resolution": 8}
    card = evaluate(GeneratorSource(sample, "images"), ref, ["birthday"], n=10, out_dir=tmp_path)[0]
    assert 30 <= card.value <= 120  # the MLE of a uniform support of 60, within a factor 2
    assert (tmp_path / "birthday-pairs.png").is_file()
    json.dumps(card.to_dict())  # the card is plain JSON
    with pytest.raises(ConfigError, match="resolution"):
        evaluate(GeneratorSource(sample, "images"), "digits", ["birthday"], n=10)


# -- commands ---------------------------------------------------------------------------------
def _digits_run(tmp_path: Path, tiny_digits: dict[str, Any], seed: int, name: str) -> Path:
    cfg = copy.deepcopy(tiny_digits)
    return train(cfg, seed=seed, out=tmp_path / name, progress=False)


def test_eval_and_compare_commands(
    tmp_path: Path, tiny_digits: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [_digits_run(tmp_path, tiny_digits, s, f"run{s}") for s in (1, 2)]
    for r in runs:
        rc = main(
            [
                "eval",
                str(r),
                "--metrics",
                "fid,kid,is,prdc,ms-ssim",
                "--extractor",
                "classifier:digits",
                "--n",
                "300",
                "--no-progress",
            ]
        )
        assert rc == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "fid" in out and "classifier:digits" in out
    cards = load_cards(runs[0] / "cards")
    assert {c.metric for c in cards} == {"fid", "kid", "is", "prdc", "ms-ssim"}
    fid = next(c for c in cards if c.metric == "fid")
    assert fid.reference["data"]["name"] == "digits" and fid.n_fake == 300
    assert fid.fake["source"] == str(runs[0])
    is_card = next(c for c in cards if c.metric == "is")
    assert 1.0 <= is_card.value <= 10.0
    # compare: two seeds of one config -> one row, mean +- std
    assert main(["compare", *map(str, runs), "--plot", str(tmp_path / "cmp.png")]) == 0
    out = capsys.readouterr().out
    assert "tiny-digits" in out and "+-" in out
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    comp = compare_runs(runs, ["fid"])
    assert len(comp.rows) == 1 and comp.rows[0][1] == 2
    vals = [next(c for c in load_cards(r / "cards") if c.metric == "fid").value for r in runs]
    mean, std = comp.rows[0][2]["fid"]
    assert mean == pytest.approx(np.mean(vals)) and std == pytest.approx(np.std(vals, ddof=1))
    # a score measured differently is refused, naming the field
    rc = main(["eval", str(runs[1]), "--metrics", "fid", "--extractor", "classifier:digits",
               "--n", "200", "--no-progress"])  # fmt: skip
    assert rc == 0
    capsys.readouterr()
    assert main(["compare", *map(str, runs), "--metrics", "fid"]) == 2
    err = capsys.readouterr().err
    assert "refusing to compare 'fid'" in err and "n_fake: 300 vs 200" in err


def test_eval_folders_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digits = registry.DATASETS.build({"name": "digits"}, "d").tensors["real"]
    for name, sl in (("real", slice(0, 200)), ("fake", slice(200, 400))):
        d = tmp_path / name
        d.mkdir()
        for i, img in enumerate(digits[sl]):
            to_pil(img).save(d / f"{i:04d}.png")
    rc = main(
        ["eval", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
         "--metrics", "fid,kid", "--extractor", "classifier:digits", "--channels", "1",
         "--no-progress"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "fid" in captured.out
    assert main(["eval", "--real", str(tmp_path / "real")]) == 2
    assert "both --real DIR and --fake DIR" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nope"), "--metrics", "fid"]) == 2
    assert "not a ganforge run dir" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "real")]) == 2
    assert "no evaluation cards" in capsys.readouterr().err


def test_eval_during_training_logs_keeps_best_and_does_not_change_training(
    tmp_path: Path, tiny_ring8: dict[str, Any]
) -> None:
    plain = train(copy.deepcopy(tiny_ring8), out=tmp_path / "plain", progress=False)
    cfg = copy.deepcopy(tiny_ring8)
    cfg["train"]["eval"] = {"every": 20, "metrics": ["fid", "mode-coverage"], "n": 500}
    run = train(cfg, out=tmp_path / "eval", progress=False)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if "eval/fid" in x]
    assert [x["step"] for x in evals] == [20, 40]
    assert all("eval/mode-coverage" in x for x in evals)
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert set(best) == {"fid", "mode-coverage"}
    assert (run / "checkpoints" / best["fid"]["file"]).is_file()
    assert len((run / "cards" / "training.jsonl").read_text().splitlines()) == 4
    # evaluating draws from its own generators: training is bitwise the same
    a = (plain / "generator.safetensors").read_bytes()
    b = (run / "generator.safetensors").read_bytes()
    assert a == b
    # the Python API takes an exported generator and a dataset name / spec
    import ganforge

    cards = ganforge.evaluate(ganforge.load(run), "ring8", ["mode-coverage", "fid"], n=500)
    assert [c.metric for c in cards] == ["mode-coverage", "fid"]
    assert cards[1].reference["data"]["name"] == "ring8" and cards[1].n_fake == 500
    with pytest.raises(ConfigError, match="must be a generator"):
        ganforge.evaluate(42, "ring8", ["fid"])


def test_train_eval_config_is_validated(tiny_ring8: dict[str, Any], tmp_path: Path) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["train"]["eval"] = {"every": 10, "metrics": ["fdi"]}
    with pytest.raises(UnknownNameError, match=r"train\.eval\.metrics"):
        train(cfg, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
