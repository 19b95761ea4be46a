"""The default recipe, as a user runs it: wall time of `ganforge train` and whether its
samples are digits.

Runs `python -m ganforge train` (gan-digits, offline) in a subprocess with
GANFORGE_THREADS threads, then scores 512 samples of the exported generator with
`ganforge.metrics.classifier.digit_sample_score` (a LeNet with a "not a digit" class;
real held-out digits score ~0.96 confident). Goals (issue 2): < 180 s on 2 cores,
> 70% confident digits.

    python benchmarks/default_recipe.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganforge.engine.run import load
from ganforge.metrics.classifier import digit_sample_score


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GANFORGE_THREADS": str(args.threads)}
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ganforge", "train", "--no-progress", "--runs", tmp],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        score = digit_sample_score(load(Path(tmp) / "gan-digits-0001").sample(512, seed=0))
    print(f"# default recipe (gan-digits), {args.threads} threads, torch {torch.__version__}")
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| wall time of `ganforge train` | {wall:.0f} s | < 180 s |")
    print(f"| confident digits in 512 samples | {score['confident']:.3f} | > 0.70 |")
    print(f"| digit classes among them | {score['classes']:.0f} | >= 8 |")


if __name__ == "__main__":
    main()
