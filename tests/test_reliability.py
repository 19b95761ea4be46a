"""Runs that die, are stopped, fill the disk or are trained twice (issue 9, reliability).

- kill -9 at seeded random moments of training and of every kind of write: each resume
  starts from the last complete checkpoint and ends bitwise where an uninterrupted run
  ends (CPU);
- SIGINT / SIGTERM: the last step is checkpointed, the exit is clean (128 + signal);
- a full disk while checkpointing: a clear error, the previous checkpoint intact;
- two trainers on one run dir: the second is refused (lock);
- files that would run code when unpickled are refused without running it; YAML is safe;
- memory stays flat over thousands of steps.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge import io as gio
from ganforge.engine import checkpoint as ckpt
from ganforge.engine.run import load, resume, train
from ganforge.errors import (
    CheckpointError,
    ConfigError,
    DiskFullError,
    GanforgeError,
    RunLockedError,
)

STEPS, EVERY = 40, 5


def _cfg(template: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    cfg = template()
    cfg["train"].update(
        steps=STEPS, ckpt_every=EVERY, log_every=5, sample_every=20, tensorboard=False
    )
    return cfg


def _final(run: Path) -> dict[str, Any]:
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run / "checkpoints"))


def _env() -> dict[str, str]:
    # two threads like the test process, so that float reductions run in the same order
    return {**os.environ, "GANFORGE_THREADS": "2"}


@pytest.fixture(scope="module")
def straight(
    tmp_path_factory: pytest.TempPathFactory, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], Path]:
    """The config and the uninterrupted run every interrupted one must end equal to."""
    cfg = _cfg(tiny_ring8_template)
    return cfg, train(cfg, out=tmp_path_factory.mktemp("straight") / "run", progress=False)


# -- kill -9 at random moments ---------------------------------------------------------------
# The child trains (or resumes) and SIGKILLs itself at one planned moment:
#   step          after step k's callbacks (checkpoint included when k is a multiple of 5)
#   ckpt-bytes    halfway through (a seeded fraction of) the bytes of step k's checkpoint
#   before-latest step k's checkpoint file is complete, the `latest` pointer not yet moved
#   before-rotate `latest` moved to step k, the oldest checkpoint not yet deleted
#   metrics-line  in the middle of the metrics.jsonl line of step k
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from ganforge import io
    from ganforge.engine import callbacks, checkpoint
    from ganforge.engine.run import resume, train

    plan = json.loads(sys.argv[1])
    kind, k = plan["kind"], plan["step"]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_bytes, real_text = checkpoint.atomic_write_bytes, checkpoint.atomic_write_text

    def write_bytes(path, data):
        if kind == "ckpt-bytes" and Path(path).name == f"step-{k:08d}.safetensors":
            with io.atomic_open(path) as f:
                f.write(bytes(data)[: int(len(data) * plan["fraction"])])
                f.flush()
                die()
        return real_bytes(path, data)

    def write_text(path, text):
        ours = Path(path).name == "latest" and text.strip() == f"step-{k:08d}.safetensors"
        if ours and kind == "before-latest":
            die()
        out = real_text(path, text)
        if ours and kind == "before-rotate":
            die()
        return out

    checkpoint.atomic_write_bytes, checkpoint.atomic_write_text = write_bytes, write_text

    real_log = callbacks.MetricsWriter.on_log

    def on_log(self, trainer, scalars):
        if kind == "metrics-line" and trainer.step == k:
            line = json.dumps({"step": trainer.step, **scalars})
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line[: len(line) // 2])
                f.flush()
            die()
        return real_log(self, trainer, scalars)

    callbacks.MetricsWriter.on_log = on_log

    class KillAt:
        def on_step_end(self, trainer):
            if kind == "step" and trainer.step == k:
                die()

    if plan["mode"] == "train":
        train(plan["cfg"], out=plan["run"], progress=False, callbacks=[KillAt()])
    else:
        resume(plan["run"], progress=False, callbacks=[KillAt()])
    """
)
KINDS = ("step", "ckpt-bytes", "before-latest", "before-rotate", "metrics-line")


def _plan(rng: random.Random, after: int) -> dict[str, Any]:
    """A seeded kill moment strictly after step ``after`` (a completed checkpoint)."""
    kind = rng.choice(KINDS)
    if kind in ("step",):
        step = rng.randint(after + 1, STEPS - 1)
    else:  # a write that happens at multiples of 5 (log_every = ckpt_every = 5)
        step = rng.choice(range(after + EVERY, STEPS + 1, EVERY))
    return {"kind": kind, "step": step, "fraction": rng.random()}


def _run_child(plan: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(plan)],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(),
    )


def _trial(seed: int, cfg: dict[str, Any], root: Path) -> dict[str, Any]:
    """Train, get killed; every other trial also gets killed again while resuming."""
    rng = random.Random(seed)
    run = root / f"trial-{seed:02d}" / "run"
    first = _plan(rng, after=EVERY)  # the first checkpoint (step 5) completes
    events = [first]
    proc = _run_child({**first, "mode": "train", "cfg": cfg, "run": str(run)})
    assert proc.returncode == -signal.SIGKILL, (first, proc.stderr[-2000:])
    if seed % 2:
        done = ckpt.load_checkpoint(ckpt.latest_checkpoint(run / "checkpoints"))["step"]
        if done < STEPS - EVERY:
            second = _plan(rng, after=done)
            events.append(second)
            proc = _run_child({**second, "mode": "resume", "run": str(run)})
            assert proc.returncode == -signal.SIGKILL, (second, proc.stderr[-2000:])
    return {"run": run, "events": events}


@pytest.mark.slow
def test_kill_9_at_random_moments_always_resumes_to_the_same_weights(
    straight: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    cfg, reference = straight
    want = _final(reference)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two children at a time (two cores)
        trials = list(pool.map(lambda s: _trial(s, cfg, tmp_path), range(20)))
    kinds = {e["kind"] for t in trials for e in t["events"]}
    assert kinds == set(KINDS), kinds  # the seeds cover every kind of moment
    for t in trials:
        run = t["run"]
        # what the kill left: only complete checkpoints are listed and loadable
        for _, path in ckpt.list_checkpoints(run / "checkpoints"):
            ckpt.load_checkpoint(path)
        resumed = resume(run, progress=False)
        got = _final(resumed)
        assert got["step"] == STEPS, t["events"]
        diff = ckpt.state_differences(want, got)
        assert not diff, (t["events"], diff[:5])
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
        steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(EVERY, STEPS + 1, EVERY)), t["events"]
    assert torch.equal(load(reference).sample(8, seed=0), load(run).sample(8, seed=0))


# -- SIGINT / SIGTERM ------------------------------------------------------------------------
SLOW_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from ganforge.cli import main

    class Slow:  # a step every ~20 ms, and a marker once training is under way
        def on_step_end(self, trainer):
            time.sleep(0.02)
            if trainer.step == 3:
                Path(sys.argv[3]).write_text("started")

    import ganforge.engine.run as run
    real = run._make_trainer
    run._make_trainer = lambda b, d, p, cbs: real(b, d, p, [*cbs, Slow()])
    sys.exit(main(["train", sys.argv[1], "--out", sys.argv[2], "--set", "train.steps=100000"]))
    """
)


def _start_slow(tmp_path: Path, cfg: dict[str, Any], name: str) -> tuple[Any, Path, Path]:
    yaml_path = tmp_path / f"{name}.yaml"
    import yaml

    yaml_path.write_text(yaml.safe_dump(cfg))
    run, marker = tmp_path / name, tmp_path / f"{name}.started"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHILD, str(yaml_path), str(run), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the child never started training"
        time.sleep(0.05)
    return proc, run, marker


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_checkpoint_the_last_step_and_exit_cleanly(
    sig: signal.Signals, tmp_path: Path, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> None:
    cfg = _cfg(tiny_ring8_template)
    cfg["train"].update(ckpt_every=1000, lr_schedule="constant")
    proc, run, _ = _start_slow(tmp_path, cfg, "run")
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert f"{sig.name} stopped training at step" in err
    assert "ganforge resume" in err and "Traceback" not in err
    state = _final(run)
    assert 3 <= state["step"] < 1000  # the step it stopped at, not a periodic checkpoint
    assert not (run / ".lock").exists() or (run / ".lock").read_text() == ""
    # and the run goes on from there
    resumed = resume(run, steps=state["step"] + 2, progress=False)
    assert _final(resumed)["step"] == state["step"] + 2


# -- disk full -------------------------------------------------------------------------------
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(
    straight: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = straight
    real = ckpt.atomic_write_bytes

    def full_at_15(path: Path, data: bytes) -> Path:
        if Path(path).name == "step-00000015.safetensors":
            with gio.atomic_open(path) as f:  # the real temp-file machinery, then ENOSPC
                f.write(bytes(data)[:1000])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(ckpt, "atomic_write_bytes", full_at_15)
    run = tmp_path / "run"
    with pytest.raises(DiskFullError) as info:
        train(cfg, out=run, progress=False)
    message = str(info.value)
    assert "step-00000015" in message and "step-00000010.safetensors, is intact" in message
    assert "ganforge resume" in message
    folder = run / "checkpoints"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")] == []
    assert ckpt.latest_checkpoint(folder).name == "step-00000010.safetensors"
    assert ckpt.load_checkpoint(ckpt.latest_checkpoint(folder))["step"] == 10
    monkeypatch.setattr(ckpt, "atomic_write_bytes", real)  # space freed
    assert _final(resume(run, progress=False))["step"] == STEPS


def test_disk_full_on_a_real_tiny_file_system(
    tmp_path: Path, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> None:
    """A 1 MB tmpfs (needs root and a kernel that allows it; skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or not allowed in this container)")
    try:
        cfg = _cfg(tiny_ring8_template)
        cfg["nets"]["g"]["hidden"] = [200, 200]  # ~0.5 MB of state per checkpoint
        cfg["train"].update(keep_last=5, sample_every=1000)
        with pytest.raises(DiskFullError) as info:
            train(cfg, out=mount / "run", progress=False)
        assert "is intact" in str(info.value)
        folder = mount / "run" / "checkpoints"
        assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
        ckpt.load_checkpoint(ckpt.latest_checkpoint(folder))
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# -- one trainer per run dir -----------------------------------------------------------------
def test_a_second_trainer_on_the_same_run_dir_is_refused(
    tmp_path: Path, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> None:
    cfg = _cfg(tiny_ring8_template)
    cfg["train"].update(ckpt_every=1, lr_schedule="constant")
    proc, run, _ = _start_slow(tmp_path, cfg, "run")
    try:
        with pytest.raises(RunLockedError, match=rf"being trained by process {proc.pid}"):
            resume(run, progress=False)
        assert not any(p.name.startswith(".tmp-") for p in (run / "checkpoints").iterdir()) or (
            proc.poll() is None  # the live trainer's own temp file, untouched by us
        )
        with pytest.raises(ConfigError, match="is a run"):
            train(cfg, out=run, progress=False)
        cli = subprocess.run(
            [sys.executable, "-m", "ganforge", "resume", str(run)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        assert cli.returncode == 2 and "being trained by process" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        proc.kill()
        proc.communicate()
    # a killed holder leaves no stale lock: the run resumes at once
    assert _final(resume(run, steps=_final(run)["step"] + 1, progress=False))["step"] > 0


def test_run_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with gio.RunLock(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(RunLockedError), gio.RunLock(tmp_path):
            pass
    with gio.RunLock(tmp_path):  # released: can be taken again
        pass


# -- files that would run code ---------------------------------------------------------------
class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/ganforge-pickle-payload-ran")


def _pickle_files(tmp_path: Path) -> dict[str, Path]:
    MARKER.unlink(missing_ok=True)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"nets": _Payload()}))
    torch_file = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2), "x": _Payload()}, torch_file)  # a zip holding a pickle
    return {"raw": raw, "torch": torch_file}


@pytest.mark.parametrize("kind", ["raw", "torch"])
def test_pickle_payloads_are_refused_without_running(
    kind: str, straight: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    evil = _pickle_files(tmp_path)[kind]
    # as a checkpoint
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(evil)
    # as the newest checkpoint of a run
    _, reference = straight
    run = tmp_path / "run"
    import shutil

    shutil.copytree(reference, run)
    (run / "checkpoints" / "step-00000099.safetensors").write_bytes(evil.read_bytes())
    (run / "checkpoints" / "latest").write_text("step-00000099.safetensors\n")
    with pytest.raises(CheckpointError):
        resume(run, progress=False)
    # as an exported generator
    (run / "generator.safetensors").write_bytes(evil.read_bytes())
    with pytest.raises(GanforgeError):
        load(run)
    cli = subprocess.run(
        [sys.executable, "-m", "ganforge", "sample", str(run), "--out", str(tmp_path / "s.png")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert cli.returncode != 0 and "Traceback" not in cli.stderr
    assert not MARKER.exists(), "a pickle payload ran"


def test_yaml_that_would_build_objects_is_refused(tmp_path: Path) -> None:
    from ganforge.config import load_config

    MARKER.unlink(missing_ok=True)
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"recipe: x\nseed: !!python/object/apply:os.system ['touch {MARKER}']\n")
    with pytest.raises(ConfigError):
        load_config(str(bad))
    assert not MARKER.exists()


# -- memory ----------------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_rss_stays_flat_over_5000_steps_of_gan_ring8(tmp_path: Path) -> None:
    """The gan-ring8 recipe as shipped (networks, logging every step's scalars), 5,000
    steps: resident memory at the end within 5% of what it was after warm-up."""
    seen: dict[int, int] = {}

    class Probe:
        def on_step_end(self, trainer: Any) -> None:
            if trainer.step in (500, 5000):
                seen[trainer.step] = _rss_bytes()

    train(
        "gan-ring8",
        [
            "train.steps=5000",
            "train.batch_size=64",  # the recipe's networks; a smaller batch keeps it quick
            "train.log_every=1",  # every step's scalars logged: the path most likely to leak
            "train.sample_every=1000",
            "train.ckpt_every=1000",
            "train.tensorboard=false",
        ],
        out=tmp_path / "run",
        progress=False,
        callbacks=[Probe()],
    )
    growth = seen[5000] / seen[500] - 1
    assert growth < 0.05, f"RSS grew {growth:.1%} from step 500 to 5000"
