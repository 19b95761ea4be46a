"""Every image-to-image recipe trains through the engine (contract), resumes bitwise
exactly, exports a translator, and `ganforge translate` / `upscale` apply it to a folder."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config, read_recipe
from ganforge.engine.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.engine.run import load, load_trained

ROOTS = {
    "edges2fashion": "fashion-mnist",
    "mnist2color": "mnist",
    "mnist-domains": "mnist",
    "sr-cifar10": "cifar10-jpeg",
    "mnist-seg": "mnist",
}


def _tiny(nets: dict[str, Any]) -> dict[str, Any]:
    """The recipe's networks at the smallest useful size."""
    out = {}
    for key, spec in nets.items():
        spec = dict(spec, base_channels=4)
        if "n_blocks" in spec:
            spec["n_blocks"] = 1
        out[key] = spec
    return out


def _cfg(recipe: str, shared: Path) -> dict[str, Any]:
    cfg = read_recipe(recipe)
    cfg["data"] = dict(cfg["data"], root=str(shared / ROOTS[cfg["data"]["name"]]), limit=24)
    cfg["nets"] = _tiny(cfg["nets"])
    if cfg["algorithm"]["name"] == "srgan":
        cfg["algorithm"]["pretrain_steps"] = 2  # both phases within the 6 steps
    if cfg["algorithm"]["name"] == "stargan":
        cfg["algorithm"]["n_critic"] = 2
    cfg["train"].update(
        steps=6,
        batch_size=4,
        ckpt_every=3,
        sample_every=3,
        log_every=1,
        tensorboard=False,
        # constant: the exact-resume check trains the first part with steps=cut, and a
        # linear decay over train.steps would differ between the two runs by design
        lr_schedule="constant",
        lr_decay_start=0,
    )
    return cfg


RECIPES = [
    "pix2pix-edges2fashion",
    "cyclegan-mnist2color",
    "dualgan-mnist2color",
    "discogan-mnist2color",
    "stargan-mnist-domains",
    "srgan-cifar10",
    "segan-mnist-seg",
]


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_trains_resumes_exactly_and_exports_a_translator(
    recipe: str, shared_datasets: Path, exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(recipe, shared_datasets)
    load_config(copy.deepcopy(cfg))  # the recipe validates
    run = exact_resume(cfg, 3)
    # Every network's state round-trips through the checkpoint.
    algo, _ = load_trained(run)
    state = load_checkpoint(latest_checkpoint(run / "checkpoints"))
    for key, net in algo.nets.items():
        for name, tensor in net.state_dict().items():
            assert torch.equal(tensor, state["nets"][key][name]), (key, name)
    panels = sorted(p.name for p in (run / "samples").iterdir())
    assert "final.png" in panels and "step-00000003.png" in panels
    gen = load(run)
    spec = gen.translation
    x = torch.rand(3, *spec["in_shape"]) * 2 - 1
    labels = torch.tensor([0, 1, 2]) if spec.get("domains") else None
    y = gen.translate(x, labels=labels)
    assert y.shape == (3, *spec["out_shape"])
    assert float(y.min()) >= -1.0 and float(y.max()) <= 1.0
    with pytest.raises(Exception, match="translate"):
        gen.sample(4)


def _png_folder(folder: Path, n: int, size: int, channels: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size, size) if channels == 1 else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"im{i}.png")


@pytest.fixture(scope="module")
def trained_runs(
    tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
) -> dict[str, Path]:
    from ganforge.engine.run import train

    out = {}
    for recipe in ("pix2pix-edges2fashion", "srgan-cifar10", "stargan-mnist-domains"):
        cfg = _cfg(recipe, shared_datasets)
        cfg["train"].update(steps=2, ckpt_every=2, sample_every=2)
        out[recipe] = train(cfg, out=tmp_path_factory.mktemp(recipe) / "run", progress=False)
    return out


def test_translate_and_upscale_commands(
    trained_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    _png_folder(src, 3, 40, 3)  # colour, another size: converted to 1 channel, resized
    out = tmp_path / "out"
    assert (
        main(
            [
                "translate",
                str(trained_runs["pix2pix-edges2fashion"]),
                "--input",
                str(src),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["im0.png", "im1.png", "im2.png"]
    assert Image.open(files[0]).size == (32, 32) and Image.open(files[0]).mode == "L"

    low = tmp_path / "low"
    _png_folder(low, 2, 10, 3)  # SR is fully convolutional: any size, upscaled 4x
    up = tmp_path / "up"
    assert (
        main(["upscale", str(trained_runs["srgan-cifar10"]), "--input", str(low), "--out", str(up)])
        == 0
    )
    assert Image.open(up / "im0.png").size == (40, 40)

    star = trained_runs["stargan-mnist-domains"]
    dom = tmp_path / "dom"
    assert (
        main(["translate", str(star), "--input", str(src), "--out", str(dom), "--domain", "2"]) == 0
    )
    assert len(list(dom.iterdir())) == 3
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["translate", "{sr}", "--input", "{src}", "--out", "{o}"], "super-resolution run"),
        (["upscale", "{p2p}", "--input", "{src}", "--out", "{o}"], "not a super-resolution"),
        (["translate", "{star}", "--input", "{src}", "--out", "{o}"], "--domain"),
        (["translate", "{star}", "--input", "{src}", "--out", "{o}", "--domain", "9"], "0..4"),
        (["translate", "{p2p}", "--input", "{src}", "--out", "{o}", "--domain", "1"], "StarGAN"),
        (["translate", "{p2p}", "--input", "{missing}", "--out", "{o}"], "does not exist"),
        (["translate", "{p2p}", "--input", "{empty}", "--out", "{o}"], "no images"),
        (["sample", "{p2p}", "--out", "{o}/x.png"], "translate"),
    ],
)
def test_translate_errors_teach(
    trained_runs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    src = tmp_path / "in"
    _png_folder(src, 1, 32, 1)
    (tmp_path / "empty").mkdir()
    names = {
        "sr": trained_runs["srgan-cifar10"],
        "p2p": trained_runs["pix2pix-edges2fashion"],
        "star": trained_runs["stargan-mnist-domains"],
        "src": src,
        "o": tmp_path / "o",
        "missing": tmp_path / "nope",
        "empty": tmp_path / "empty",
    }
    assert main([a.format(**{k: str(v) for k, v in names.items()}) for a in args]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
