"""FID between the train and test splits of real datasets: the floor a perfect generator hits.

For MNIST and Fashion-MNIST: 10,000 training images (a seeded subset, seed 0) against the
10,000 test images, with ``inception-fid`` (the TF 2015-12-05 weights; here the
TorchScript copy in ../shared/weights, loaded by name mapping) and with ganforge's
``classifier:<dataset>``. Writes a Markdown table with the evaluation cards' key fields.

    python benchmarks/fid_real_data.py --out benchmarks/results/fid_real_data.md

On 2 CPU cores Inception runs at ~14 images/s, so the inception rows take ~25 min per
dataset; ``--skip-inception`` gives the classifier rows in minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/fid_real_data.md")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--skip-inception", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    weights = SHARED / "weights" / "inception-2015-12-05-tfnames-torchscript.pt"
    os.environ.setdefault("GANFORGE_INCEPTION_WEIGHTS", str(weights))

    from ganforge import registry
    from ganforge.metrics.evaluate import DatasetSource, evaluate

    registry.load_all()
    rows = []
    for ds in a.datasets.split(","):
        root = str(SHARED / "datasets" / ds)
        specs = {
            split: {"name": ds, "split": split, "root": root, "resolution": 32}
            for split in ("train", "test")
        }
        train = DatasetSource(registry.DATASETS.build(specs["train"], "d"), specs["train"])
        test = DatasetSource(registry.DATASETS.build(specs["test"], "d"), specs["test"])
        extractors = [f"classifier:{ds}"] + ([] if a.skip_inception else ["inception-fid"])
        for ext in extractors:
            t0 = time.perf_counter()
            metrics = ["fid", "kid"] if ext.startswith("classifier") else ["fid"]
            cards = evaluate(test, train, metrics, n=a.n, n_real=a.n, extractor=ext)
            dt = time.perf_counter() - t0
            for c in cards:
                rows.append((ds, c, dt))
                print(
                    f"{ds:14s} {c.extractor:24s} {c.metric} {c.value:.4f} ({dt:.0f} s)", flush=True
                )
    lines = [
        "# FID between real train and test splits",
        "",
        f"Command: `python benchmarks/fid_real_data.py --n {a.n}"
        + (" --skip-inception" if a.skip_inception else "")
        + "`",
        f"Machine: {platform.processor() or platform.machine()}, {a.threads} torch threads, "
        f"torch {torch.__version__}. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "Fake = the 10,000 test images (all, in order); real = 10,000 training images "
        "(first 10,000 of randperm(seed=0)); images at 32x32 (28x28 zero-padded by 2), "
        "uint8, grey repeated to RGB for Inception. Inception = the TF 2015-12-05 weights "
        "(TorchScript copy with TF names, mapped onto ganforge's InceptionV3FID), TF1 "
        "bilinear resize to 299.",
        "",
        "| dataset | extractor | weights sha256 | metric | value | n_real | n_fake | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ds, c, dt in rows:
        v = c.value
        extra = f" +- {c.values['kid_std']:.5f}" if c.metric == "kid" else ""
        lines.append(
            f"| {ds} | {c.extractor} | {str(c.weights_sha256)[:12]} | {c.metric} | "
            f"{v:.4f}{extra} | {c.n_real} | {c.n_fake} | {dt:.0f} |"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
