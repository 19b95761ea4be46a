"""Shared fixtures: tiny recipes, the real datasets folder, thread pinning."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = (REPO / ".." / "shared" / "datasets").resolve()

# Tiny, fast runs. Two threads: the CI machine has two cores.
torch.set_num_threads(2)

TINY_RING8: dict[str, Any] = {
    "recipe": "tiny-ring8",
    "seed": 3,
    "data": {"name": "ring8", "n": 2000},
    "nets": {
        "g": {"name": "mlp-g", "hidden": [32, 32]},
        "d": {"name": "mlp-d", "hidden": [32, 32], "dropout": 0.1},
    },
    "algorithm": {"name": "unconditional", "latent_dim": 2, "n_critic": 2},
    "objective": {"name": "ns"},
    "optim": {"g": {"name": "adam", "lr": 1e-3}, "d": {"name": "adam", "lr": 1e-3}},
    "train": {
        "steps": 40,
        "batch_size": 32,
        "ema": 0.9,
        "ema_start": 5,
        "lr_schedule": "linear",
        "lr_decay_start": 10,
        "log_every": 10,
        "sample_every": 20,
        "ckpt_every": 20,
        "keep_last": 5,
        "n_samples": 64,
        "tensorboard": False,
    },
}

TINY_DIGITS: dict[str, Any] = {
    "recipe": "tiny-digits",
    "seed": 1,
    "data": {"name": "digits", "resolution": 16},
    "nets": {
        "g": {"name": "dcgan-g", "base_channels": 8},
        "d": {"name": "dcgan-d", "base_channels": 8},
    },
    "algorithm": {"name": "unconditional", "latent_dim": 8},
    "objective": {"name": "minimax"},
    "optim": {"g": {"name": "adam"}, "d": {"name": "adam"}},
    "train": {
        "steps": 40,
        "batch_size": 16,
        "ema": 0.99,
        "log_every": 10,
        "sample_every": 20,
        "ckpt_every": 20,
        "n_samples": 16,
        "tensorboard": True,
    },
}


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never write into the user's ~/.cache/ganforge (nor read stale files there)."""
    old = os.environ.get("GANFORGE_DATA")
    path = tmp_path_factory.mktemp("ganforge-cache")
    os.environ["GANFORGE_DATA"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GANFORGE_DATA", None)
    else:
        os.environ["GANFORGE_DATA"] = old


@pytest.fixture
def tiny_ring8() -> dict[str, Any]:
    return copy.deepcopy(TINY_RING8)


@pytest.fixture(scope="session")
def tiny_ring8_template() -> Callable[[], dict[str, Any]]:
    """For module-scoped fixtures: a factory of fresh copies of the tiny ring8 recipe.

    (Test modules must not `from conftest import ...`: tests/data has its own conftest,
    and whichever is imported first owns the module name.)"""
    return lambda: copy.deepcopy(TINY_RING8)


@pytest.fixture
def tiny_digits() -> dict[str, Any]:
    return copy.deepcopy(TINY_DIGITS)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture
def exact_resume(tmp_path: Path) -> Callable[[dict[str, Any], int], Path]:
    """``exact_resume(cfg, cut)``: train ``cfg`` straight through and, separately, to step
    ``cut`` and then resumed to the end; assert the exported generators are byte-identical
    (bitwise exact resume) and return the uninterrupted run dir."""
    from ganforge.engine.run import resume, train

    def check(cfg: dict[str, Any], cut: int) -> Path:
        full = train(copy.deepcopy(cfg), out=tmp_path / "full", progress=False)
        part_cfg = copy.deepcopy(cfg)
        part_cfg["train"]["steps"] = cut
        part = train(part_cfg, out=tmp_path / "part", progress=False)
        resume(part, steps=cfg["train"]["steps"], progress=False)
        assert (full / "generator.safetensors").read_bytes() == (
            part / "generator.safetensors"
        ).read_bytes()
        return full

    return check
