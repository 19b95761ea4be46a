"""Shared parts of the training benchmarks (mode_collapse, conditional, feature_learning).

Imported as ``_bench`` from the scripts in this folder (``python benchmarks/<script>.py``
puts the folder on ``sys.path``; spawned worker processes inherit it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: the team's datasets (tests and benchmarks read them; the product downloads its own)
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def budget_overrides(steps: int, device: str) -> list[str]:
    """Recipe overrides for a benchmark run: ``steps`` critic steps on ``device``, one
    checkpoint and sample grid at the end, no TensorBoard, no evaluation during training."""
    return [
        f"train.steps={steps}",
        "train.tensorboard=false",
        "train.eval.every=0",
        f"train.sample_every={steps}",
        f"train.ckpt_every={steps}",
        f"train.log_every={max(1, min(200, steps))}",
        f"train.device={device}",
    ]


def write_cards(path: Path, results: list[dict[str, Any]]) -> None:
    """The ``card`` of each result, one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            if "card" in r:
                fh.write(json.dumps(r["card"], sort_keys=True) + "\n")
