"""GANs as feature learners: the critic's pooled features under a linear L2-SVM probe.

The protocol of Radford et al. 2016 (DCGAN, sec. 5.1) and the applications survey's
Tables 1-2, through ``ganforge.metrics.probe.probe_run`` (the code behind ``ganforge
features``): every activation map of the trained critic max-pooled to 4 x 4, concatenated,
and a linear L2-SVM with C chosen on a validation split.

- MNIST and Fashion-MNIST (``dcgan-mnist`` / ``dcgan-fashion-mnist`` recipes, 32 x 32):
  test error with 1000 labels (100 per class), mean +- std over ``--draws`` label draws.
  Next to each: the same critic at initialisation (one training step), to show what the
  adversarial training adds over random convolutional features.
- ``--cifar``: CIFAR-10 (``dcgan-cifar10``), test accuracy with all 50,000 training labels,
  again next to the critic at initialisation.
  Our CIFAR-10 copy is JPEG-compressed (see ../shared/datasets/README.md). The paper's
  82.8% uses a critic trained on ImageNet-1k, not on CIFAR-10; its SVHN anchor is 22.48%
  error with 1000 labels.

    python benchmarks/feature_learning.py --steps 2000 --out benchmarks/results/feature_learning.md
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _bench import SHARED_DATASETS, budget_overrides

ROOTS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10-jpeg"}


def one_run(
    dataset: str, steps: int, labels: int | None, draws: int, device: str, threads: int = 1
) -> dict:
    import torch

    torch.set_num_threads(threads)
    from ganforge.engine.run import train
    from ganforge.metrics.probe import probe_run

    root = SHARED_DATASETS / ROOTS[dataset]
    overrides = budget_overrides(steps, device)
    if root.is_dir():
        overrides.append(f"data.root={root}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = train(f"dcgan-{dataset}", overrides, out=Path(tmp) / "run", progress=False)
        t_train = time.perf_counter() - t0
        res = probe_run(run, labels=labels, draws=draws, device=device)
    return {**res, "steps": steps, "train_seconds": t_train, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=2000, help="critic steps of each DCGAN")
    ap.add_argument("--labels", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--cifar", action="store_true", help="also CIFAR-10 with all labels")
    ap.add_argument(
        "--only",
        default=None,
        help="comma-separated subset of mnist,fashion-mnist,cifar10 (cifar10 implies --cifar)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if min(args.steps, args.labels, args.draws, args.jobs) <= 0:
        ap.error("--steps, --labels, --draws and --jobs must be positive")
    only = set(args.only.split(",")) if args.only else {"mnist", "fashion-mnist"}
    if bad := only - set(ROOTS):
        ap.error(f"--only: unknown dataset(s) {sorted(bad)}; choose from {sorted(ROOTS)}")
    if args.cifar:
        only.add("cifar10")
    tasks = [
        (ds, steps, args.labels, args.draws, args.device, args.threads)
        for ds in ("mnist", "fashion-mnist")
        if ds in only
        for steps in (args.steps, 1)
    ]
    if "cifar10" in only:
        tasks += [("cifar10", st, None, 1, args.device, args.threads) for st in (args.steps, 1)]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        results = [f.result() for f in [pool.submit(one_run, *t) for t in tasks]]
    wall = time.perf_counter() - t0
    lines = [
        "## Critic features under a linear L2-SVM probe (Radford et al. 2016 protocol)",
        "",
        f"Command: `python benchmarks/feature_learning.py {shlex.join(sys.argv[1:])}`",
        "",
        f"DCGAN recipes at 32 x 32 (base 64), device {args.device}, {args.threads} thread(s) "
        "per run; "
        f"wall {wall / 60:.1f} min. Features: every critic activation max-pooled to 4 x 4.",
        "",
        "| dataset | critic | features | result |",
        "|---|---|---|---|",
    ]
    for r in results:
        critic = f"trained {r['steps']} steps" if r["steps"] > 1 else "initialisation (1 step)"
        if "error" in r:
            result = (
                f"{100 * r['error']:.2f}% ± {100 * r['std']:.2f}% error with "
                f"{r['per_class'] * 10} labels ({r['draws']} draws)"
            )
        else:
            result = f"{100 * r['accuracy']:.2f}% accuracy, {r['n_train']} labels (C={r['C']})"
        lines.append(f"| {r['dataset']} | {critic} | {r['dims']} | {result} |")
    for r in results:
        if "val_scores" in r:  # the C search of a full-label probe, for the record
            path = ", ".join(f"{c:g}: {100 * a:.2f}%" for c, a in r["val_scores"].items())
            lines.append(f"\n{r['dataset']} ({r['steps']} steps), validation accuracy by C: {path}")
    lines += [
        "",
        "Anchors (Radford et al. 2016): CIFAR-10 82.8% (critic trained on ImageNet-1k), "
        "SVHN 22.48% error with 1000 labels.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
