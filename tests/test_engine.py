"""The engine: phases, exact resume (also after kill -9 mid-write), damaged checkpoints,
the NaN guard, exports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.algorithms.base import Phase
from ganforge.algorithms.unconditional import Unconditional
from ganforge.data.base import InfiniteSampler
from ganforge.engine import checkpoint as ckpt
from ganforge.engine.run import load, resume, train
from ganforge.errors import CheckpointError, TrainingDiverged

REPO = Path(__file__).resolve().parents[1]


class Crash(Exception):
    """Stands for the process dying right after a checkpoint."""


class CrashAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Any) -> None:
        if trainer.step == self.step:
            raise Crash


def final_state(run_dir: Path) -> dict[str, Any]:
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir / "checkpoints"))


def assert_same_training_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Bitwise equality of networks, EMA copies, optimizer moments and RNG."""
    assert a["step"] == b["step"]
    diff = ckpt.state_differences(a, b)
    assert not diff, f"tensors differ after resume: {diff[:5]}"


def test_phase_schedule() -> None:
    d, g = Phase("d", "d"), Phase("g", "g", every=5)
    warm = Phase("mle", "g", stop=3)
    late = Phase("adv", "g", every=2, start=3)
    assert [s for s in range(12) if g.due(s)] == [0, 5, 10]
    assert all(d.due(s) for s in range(12))
    assert [s for s in range(8) if warm.due(s)] == [0, 1, 2]
    assert [s for s in range(8) if late.due(s)] == [3, 5, 7]


def test_linear_lr_schedule(tiny_ring8: dict[str, Any], tmp_path: Path) -> None:
    run = train(tiny_ring8, out=tmp_path / "run", progress=False)
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr/d"] for r in records}
    # logged after step s-1 ran: factor 1 - (s - 1 - 10) / 30 once decay started at 10
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[40] == pytest.approx(1e-3 * (1 - 29 / 30), rel=1e-5)


def test_sampler_resumes_the_same_stream() -> None:
    a = InfiniteSampler(10, 4, seed=7)
    first = [next(a) for _ in range(7)]
    seen = torch.cat(first[:5])  # 20 indices = 2 epochs: each index exactly twice
    assert torch.equal(torch.bincount(seen, minlength=10), torch.full((10,), 2))
    b = InfiniteSampler(10, 4, seed=7)
    for _ in range(3):
        next(b)
    c = InfiniteSampler(10, 4, seed=7)
    c.load_state_dict(b.state_dict())
    assert all(torch.equal(next(c), x) for x in first[3:])
    with pytest.raises(ValueError, match="seed"):
        InfiniteSampler(10, 4, seed=8).load_state_dict(b.state_dict())


# Stateful terms and RNG-consuming penalties must survive a resume too: Fisher GAN's
# multiplier (objective state), Sobolev's (penalty state), WGAN-GP's interpolation noise,
# weight clipping's projection after the critic step.
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "fisher+clip": {"objective": {"name": "fisher", "rho": 1e-3},
                    "penalties": [{"name": "weight-clip", "bound": 0.1}]},
    "sobolev": {"objective": {"name": "sobolev", "rho": 1e-3}},
    "wgan-gp": {"objective": {"name": "wgan-gp"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("recipe", "variant"),
    [("tiny_ring8", v) for v in VARIANTS] + [("tiny_digits", "plain")],
)
def test_exact_resume_is_bitwise(
    recipe: str, variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cfg = {**request.getfixturevalue(recipe), **VARIANTS[variant]}
    straight = train(cfg, out=tmp_path / "straight", progress=False)
    with pytest.raises(Crash):
        train(cfg, out=tmp_path / "crashed", progress=False, callbacks=[CrashAt(20)])
    assert ckpt.latest_checkpoint(tmp_path / "crashed" / "checkpoints").name.endswith(
        "20.safetensors"
    )
    resumed = resume(tmp_path / "crashed", progress=False)
    assert_same_training_state(final_state(straight), final_state(resumed))
    a_states = final_state(straight)["algorithm"]["states"]
    b_states = final_state(resumed)["algorithm"]["states"]
    assert a_states.keys() == b_states.keys()
    for key in a_states:
        assert torch.equal(a_states[key]["lam"], b_states[key]["lam"])
        assert a_states[key]["lam"] != 0  # the multiplier did move
    if variant == "fisher+clip":
        assert all(t.abs().max() <= 0.1 + 1e-6 for t in final_state(resumed)["nets"]["d"].values())
    # the exported generators agree too, and the metrics log has no duplicated steps
    a = load(straight).sample(8, seed=0)
    b = load(resumed).sample(8, seed=0)
    assert torch.equal(a, b)
    steps = [json.loads(x)["step"] for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, json
    from pathlib import Path
    from ganforge import io
    from ganforge.engine import checkpoint
    from ganforge.engine.run import train

    real_write = io.atomic_write_bytes

    def dying_write(path, data):
        path = Path(path)
        if path.name.startswith("step-00000040"):
            # the temp file is half written when the process is killed
            tmp = path.parent / (io.TMP_PREFIX + path.name + ".x")
            with open(tmp, "wb") as f:
                f.write(bytes(data)[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(path, data)

    checkpoint.atomic_write_bytes = dying_write
    train(json.loads(sys.argv[1]), out=sys.argv[2], progress=False)
    """
)


def test_kill_9_mid_write_resumes_from_last_complete_checkpoint(
    tiny_ring8: dict[str, Any], tmp_path: Path
) -> None:
    straight = train(tiny_ring8, out=tmp_path / "straight", progress=False)
    run = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(tiny_ring8), str(run)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GANFORGE_THREADS": "2"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    folder = run / "checkpoints"
    assert [p.name for _, p in ckpt.list_checkpoints(folder)] == ["step-00000020.safetensors"]
    assert any(p.name.startswith(".tmp-") for p in folder.iterdir())  # the torn write
    resumed = resume(run, progress=False)
    assert not any(p.name.startswith(".tmp-") for p in folder.iterdir())
    assert_same_training_state(final_state(straight), final_state(resumed))


def test_truncated_or_edited_checkpoint_is_refused(
    tiny_ring8: dict[str, Any], tmp_path: Path
) -> None:
    tiny_ring8["train"]["steps"] = 20
    run = train(tiny_ring8, out=tmp_path / "run", progress=False)
    path = ckpt.latest_checkpoint(run / "checkpoints")
    good = path.read_bytes()
    ckpt.load_checkpoint(path)  # intact: loads

    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        ckpt.load_checkpoint(path)

    edited = bytearray(good)
    edited[-10] ^= 0xFF  # one bit pattern in a tensor
    path.write_bytes(bytes(edited))
    with pytest.raises(CheckpointError, match="digest does not match"):
        ckpt.load_checkpoint(path)

    # the JSON state sits escaped inside the safetensors header: {..."step\\": 20...}
    header_edit = good.replace(b'step\\": 20', b'step\\": 21')
    assert header_edit != good
    path.write_bytes(header_edit)
    with pytest.raises(CheckpointError, match="digest does not match"):
        ckpt.load_checkpoint(path)

    path.write_bytes(b"")
    with pytest.raises(CheckpointError):
        resume(run, progress=False)


def test_checkpoint_never_unpickles_and_round_trips_odd_state() -> None:
    state = {
        "optim": {
            "state": {0: {"step": torch.tensor(3.0)}, 1: {}},
            "groups": [{"betas": (0.5, 0.9)}],
        },
        "x": [None, True, 1.5, "s", torch.arange(3, dtype=torch.uint8)],
        "empty": torch.zeros(0),
    }
    back = ckpt.decode(ckpt.encode(state))
    assert back["optim"]["state"][0]["step"] == torch.tensor(3.0)
    assert back["optim"]["groups"][0]["betas"] == [0.5, 0.9]
    assert torch.equal(back["x"][4], torch.arange(3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="cannot checkpoint"):
        ckpt.encode({"bad": object()})


def test_rotation_keeps_last_n_and_latest(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        ckpt.save_checkpoint(tmp_path, step, {"w": torch.ones(2) * step}, keep_last=2)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [30, 40]
    assert ckpt.latest_checkpoint(tmp_path).name == "step-00000040.safetensors"
    assert ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path))["w"][0] == 40


def test_nan_guard_stops_and_last_checkpoint_loads(
    tiny_ring8: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loss = Unconditional.loss

    def poisoned(self: Unconditional, phase: str, batch: dict, step: int):  # type: ignore[no-untyped-def]
        out = real_loss(self, phase, batch, step)
        if phase == "d" and step >= 25:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(Unconditional, "loss", poisoned)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"loss/d.*step 3\d"):
        train(tiny_ring8, out=run, progress=False)
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")] == [20]
    state = final_state(run)
    assert all(torch.isfinite(t).all() for t in state["nets"]["g"].values())
    monkeypatch.setattr(Unconditional, "loss", real_loss)
    resumed = resume(run, progress=False)  # recovers from the good checkpoint
    assert final_state(resumed)["step"] == 40


def test_run_dir_contents_and_export(tiny_digits: dict[str, Any], tmp_path: Path) -> None:
    run = train(tiny_digits, out=tmp_path / "run", progress=False)
    for name in (
        "config.yaml",
        "env.json",
        "metrics.jsonl",
        "generator.json",
        "generator.safetensors",
    ):
        assert (run / name).is_file(), name
    assert (run / "samples" / "step-00000020.png").is_file()
    assert (run / "samples" / "final.png").is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 1 and env["torch"] == torch.__version__
    meta = json.loads((run / "generator.json").read_text())
    assert meta["net"]["out_shape"] == [1, 16, 16] and meta["sampling"]["latent"]["dim"] == 8
    gen = load(run)
    x = gen.sample(5, seed=1)
    assert x.shape == (5, 1, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, gen.sample(5, seed=1))
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert {"loss/d", "loss/g", "d/real", "d/fake", "lr/d"} <= set(records[-1])


def test_out_dir_that_is_a_run_is_refused(tiny_ring8: dict[str, Any], tmp_path: Path) -> None:
    tiny_ring8["train"]["steps"] = 5
    run = train(tiny_ring8, out=tmp_path / "run", progress=False)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="use `ganforge resume`"):
        train(tiny_ring8, out=run, progress=False)
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_compile_refuses_what_torch_compile_cannot_run(tiny_ring8: dict[str, Any]) -> None:
    from ganforge.config import load_config
    from ganforge.engine.run import build
    from ganforge.errors import ConfigError

    cfg = {**tiny_ring8, "objective": {"name": "wgan-gp"}}
    cfg["train"] = {**cfg["train"], "compile": True}
    with pytest.raises(ConfigError, match="cannot differentiate twice"):
        build(load_config(cfg))
    cfg = {**tiny_ring8, "train": {**tiny_ring8["train"], "compile": True}}
    cfg["nets"] = {**cfg["nets"], "d": {**cfg["nets"]["d"], "spectral_norm": True}}
    with pytest.raises(ConfigError, match=r"network\(s\) d use spectral normalisation"):
        build(load_config(cfg))
