"""The command line: bad input gives one paragraph, exit != 0, no traceback, no run dir
left behind; good input trains, resumes, samples, lists."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ganforge import registry
from ganforge.cli import main

TINY = [
    "--set", "train.steps=4",
    "--set", "train.batch_size=8",
    "--set", "train.tensorboard=false",
    "--set", "nets.g.base_channels=4",
    "--set", "nets.d.base_channels=4",
    "--no-progress",
]  # fmt: skip


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "gan-digit"], ["Unknown recipe 'gan-digit'", "Did you mean 'gan-digits'"]),
        (["train", "--set", "objective.name=nss"], ["Unknown objective 'nss'", "'ns'"]),
        (["train", "--set", "nets.g.name=dcgan-gg"], ["Unknown network 'dcgan-gg'", "'dcgan-g'"]),
        (["train", "--set", "trian.steps=5"], ["trian: unknown key", "Did you mean 'train'"]),
        (["train", "--set", "train.steps=five"], ["train.steps", "valid integer"]),
        (["train", "--set", "optim.d.lr=-1"], ["optim.d.lr", "greater than 0"]),
        (["train", "--set", "data.resolution=12"], ["data.resolution", "8, 16 or 32"]),
    ],
)
def test_bad_config_input(
    args: list[str], needles: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    code, _, err = run_cli([*args, "--runs", str(runs)], capsys)
    assert_clean_failure(code, err, *needles)
    assert not runs.exists() or not any(runs.iterdir())


def _image_folder_args(path: Path) -> list[str]:
    return ["train", "--set", f"data={{name: image-folder, path: '{path}', channels: 1}}"]


def test_empty_image_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli([*_image_folder_args(empty), "--runs", str(tmp_path / "runs")], capsys)
    assert_clean_failure(code, err, str(empty))
    assert not (tmp_path / "runs").exists()


def test_mixed_size_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (16, 16)).save(folder / "a.png")
    Image.new("L", (20, 16)).save(folder / "b.png")
    code, _, err = run_cli([*_image_folder_args(folder), "--runs", str(tmp_path / "runs")], capsys)
    assert_clean_failure(code, err, "data.resolution")


def test_unreadable_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (16, 16)).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"not a png")
    code, _, err = run_cli([*_image_folder_args(folder), "--runs", str(tmp_path / "runs")], capsys)
    assert_clean_failure(code, err, "b.png")


def test_dataset_dir_with_wrong_checksum(
    shared_datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "mnist"
    shutil.copytree(shared_datasets / "mnist", local)
    labels = local / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one test label changed: same size, wrong md5
    labels.write_bytes(gzip.compress(bytes(raw)))
    args = ["train", "dcgan-mnist", "--data-dir", str(local), "--set", "data.split=test"]
    code, _, err = run_cli([*args, *TINY, "--runs", str(tmp_path / "runs")], capsys)
    assert_clean_failure(code, err, "t10k-labels", "md5")
    assert not (tmp_path / "runs").exists()


def test_train_mnist_then_resume_and_sample(
    shared_datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Integration: a tiny DCGAN on the real MNIST, then resume longer, then sample."""
    run = tmp_path / "run"
    args = ["train", "dcgan-mnist", "--data-dir", str(shared_datasets / "mnist")]
    code, out, err = run_cli([*args, *TINY, "--out", str(run)], capsys)
    assert code == 0, err
    assert "done" in out and (run / "generator.safetensors").is_file()
    code, _, err = run_cli(["resume", str(run), "--steps", "6", "--no-progress"], capsys)
    assert code == 0, err
    assert "steps: 6" in (run / "config.yaml").read_text()
    grid = tmp_path / "grid.png"
    code, out, err = run_cli(["sample", str(run), "--n", "9", "--out", str(grid)], capsys)
    assert code == 0, err
    with Image.open(grid) as im:
        assert im.mode == "L" and im.width >= 3 * 32


def test_resume_of_a_damaged_run_changes_nothing(
    tiny_ring8: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ganforge.engine.run import train

    run = train(tiny_ring8, out=tmp_path / "run", progress=False)
    ck = run / "checkpoints" / "step-00000040.safetensors"
    ck.write_bytes(ck.read_bytes()[:-100])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = run_cli(["resume", str(run), "--steps", "60"], capsys)
    assert_clean_failure(code, err, "damaged", "step-00000040")
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = run_cli(["resume", str(tmp_path / "nope")], capsys)
    assert_clean_failure(code, err, "not a ganforge run dir")
    code, _, err = run_cli(["sample", str(tmp_path / "nope")], capsys)
    assert_clean_failure(code, err, "no exported generator")


def test_zoo_lists_every_component_with_its_paper(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["zoo"], capsys)
    assert code == 0
    registry.load_all()
    for reg in registry.ALL.values():
        for entry in reg.entries():
            assert entry.name in out
            assert entry.paper, f"{reg.kind} {entry.name!r} has no paper"


def test_recipes_data_list_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["recipes"], capsys)
    assert code == 0 and "gan-digits" in out and "(default)" in out
    code, out, _ = run_cli(["data", "list"], capsys)
    assert code == 0 and "mnist" in out and "ring8" in out
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    assert "ganforge resume" in capsys.readouterr().out
    code, _, err = run_cli(["data", "prepare", "mnsit"], capsys)
    assert_clean_failure(code, err, "Did you mean 'mnist'")


def test_real_process_exit_code_and_debug_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "GANFORGE_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganforge"]
    bad = ["train", "--set", "objective.name=nss", "--runs", str(tmp_path)]
    p = subprocess.run([*cmd, *bad], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "nss" in p.stderr
    p = subprocess.run(
        [*cmd, "--debug", *bad], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode != 0 and "Traceback" in p.stderr
