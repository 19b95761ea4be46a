"""Shared parts of the training benchmarks (mode_collapse, conditional, feature_learning,
engine_overhead, throughput).

Imported as ``_bench`` from the scripts in this folder (``python benchmarks/<script>.py``
puts the folder on ``sys.path``; spawned worker processes inherit it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: the team's datasets (tests and benchmarks read them; the product downloads its own)
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def add_set_option(ap: argparse.ArgumentParser, example: str) -> None:
    """``--set MODEL:KEY=VALUE`` (repeatable): extra recipe overrides for one model."""
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL:KEY=VALUE",
        help="an extra recipe override for one model (repeatable), stated in the table, "
        f"e.g. {example}",
    )


def parse_sets(
    ap: argparse.ArgumentParser, items: list[str], models: Sequence[str]
) -> dict[str, list[str]]:
    """The ``--set`` items as {model: [override, ...]}; an argparse error names a bad one."""
    extra: dict[str, list[str]] = {}
    for item in items:
        model, sep, override = item.partition(":")
        if not sep or model not in models or "=" not in override:
            ap.error(f"--set {item!r}: expected MODEL:KEY=VALUE with MODEL one of {list(models)}")
        extra.setdefault(model, []).append(override)
    return extra


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
    """The ``card`` (or the list ``cards``) of each result, one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            for card in ([r["card"]] if "card" in r else []) + r.get("cards", []):
                fh.write(json.dumps(card, sort_keys=True) + "\n")


def interleaved_seconds(
    runs: dict[str, Callable[[], object]], rounds: int, device: Any
) -> dict[str, float]:
    """Seconds each of ``runs`` takes over ``rounds`` rounds, the runs interleaved in every
    round so that both see the same machine load; round 0 is a warm-up (cuDNN autotuning,
    compilation) and not counted. CUDA work is synchronised around every timing."""
    import torch

    def sync() -> None:
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)

    times = dict.fromkeys(runs, 0.0)
    for r in range(rounds + 1):
        for name, run in runs.items():
            sync()
            t0 = time.perf_counter()
            run()
            sync()
            if r > 0:
                times[name] += time.perf_counter() - t0
    return times
