"""Every ``<objective>-ring8`` recipe trains 2,000 steps on ring8 without NaN (issue 3).

Tiny and fast: the recipe's objective, penalties, optimizers and schedule as shipped,
with a 2x32 MLP, 4,096 data points and batch 64. The run must finish (the engine stops
on a non-finite loss or weight), its final checkpoint must be at step 2,000 with finite
generator and critic weights, and the exported generator must sample finite points.
About 3-5 s per recipe on one core.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ganforge.config import read_recipe, recipe_names
from ganforge.engine.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.engine.run import load, train

RING8 = [name for name in recipe_names() if name.endswith("-ring8")]
STEPS = 2000
TINY = [
    f"train.steps={STEPS}",
    "nets.g.hidden=[32, 32]",
    "nets.d.hidden=[32, 32]",
    "data.n=4096",
    "train.batch_size=64",
    "train.tensorboard=false",
    f"train.ckpt_every={STEPS}",
    f"train.sample_every={STEPS}",
    "train.log_every=500",
]


def test_every_objective_family_has_a_ring8_recipe() -> None:
    expected = {
        "gan", "minimax", "ml", "fgan", "lsgan", "wgan", "wgan-gp", "dragan", "r1", "hinge",
        "rgan", "ragan", "lsgan-qi", "mmd", "fisher", "mcgan", "sobolev",
    }  # fmt: skip
    assert {f"{n}-ring8" for n in expected} <= set(RING8)
    for name in RING8:
        assert read_recipe(name).get("description"), f"{name} needs a description"


@pytest.fixture
def one_thread() -> Iterator[None]:
    """2x32 MLPs on batches of 64: threads only add overhead (and contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("recipe", RING8)
def test_recipe_trains_2000_steps_without_nan(
    recipe: str, tmp_path: Path, one_thread: None
) -> None:
    run = train(recipe, TINY, out=tmp_path / recipe, progress=False)
    state = load_checkpoint(latest_checkpoint(run / "checkpoints"))
    assert int(state["step"]) == STEPS
    for net in ("g", "d"):
        for key, w in state["nets"][net].items():
            if w.is_floating_point():
                assert torch.isfinite(w).all(), f"{recipe}: nets.{net}.{key} is not finite"
    x = load(run).sample(256, seed=0)
    assert x.shape == (256, 2) and torch.isfinite(x).all()
    assert math.isfinite(float(x.abs().max()))
