"""The mode-collapse benchmark: PacGAN / VEEGAN 2-D tables and Stacked MNIST, re-run.

**2-D part** (``--part 2d``): ``ring8`` (8 Gaussians on the unit circle, std 0.01) and
``grid25`` (5x5 grid, std 0.05) with the PacGAN set-up, recipes ``pacgan-ring8`` /
``pacgan-grid25``: G 4 x 400 FC + BN + ReLU, z in R^2; D 3 maxout layers of 200 units with
5 pieces; Adam lr 1e-4, beta1 0.8; 100 critic inputs per batch (PacGAN-m packs m x 100
samples into 100 critic inputs, so every row's critic sees 100 inputs). Each run draws
2,500 samples from the exported generator and scores them with the ``mode-coverage``
metric (:func:`ganforge.metrics.toy.mode_metrics`, the PacGAN/VEEGAN protocol): modes
covered (>= 1 sample within 3 std), % high-quality samples (within 3 std of the nearest
centre) and the reverse KL of the high-quality samples' mode histogram to uniform.
Rows are overrides of that recipe (see ``ROWS``). Means +- standard error over seeds.

**Stacked MNIST** (``--part stacked``): three MNIST digits stacked as RGB (1,000 modes),
DCGAN set-up of the VEEGAN / PacGAN papers (Adam 2e-4, beta1 0.5, batch 64, z 100;
DCGAN networks at 32 x 32), rows DCGAN and PacDCGAN2; modes counted on 26,000 samples by
the ``stacked-mnist`` metric (``classifier:mnist`` on each channel) with the KL of the
mode histogram to uniform.

The published tables ran far longer than a CPU session allows; ``--steps`` states the
budget (engine steps = critic updates) and is printed in the table. ``--device cuda``
runs the same code on a GPU.

    python benchmarks/mode_collapse.py --part 2d --steps 3000 --seeds 5 \\
        --out benchmarks/results/mode_collapse_2d.md
    python benchmarks/mode_collapse.py --part stacked --steps 2000 --seeds 1 \\
        --out benchmarks/results/mode_collapse_stacked.md
    python benchmarks/mode_collapse.py --part 2d --rows GAN,PacGAN2 --seeds 1 --steps 200
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from _bench import SHARED_DATASETS, budget_overrides, write_cards

SHARED_MNIST = SHARED_DATASETS / "mnist"


def _pack(m: int) -> list[str]:
    """PacGAN-m: m samples per critic input, m x 100 samples per batch (100 critic inputs)."""
    return [f"algorithm.pack={m}", f"train.batch_size={100 * m}"]


_MBD = ["nets.d.minibatch_discrimination=50"]
_LR = ["optim.g.lr=1.0e-3", "optim.d.lr=1.0e-3"]  # ten times the set-up's
_DECAY = ["train.lr_schedule=linear"]  # linearly to 0 at the last step
_EMA = ["train.ema=0.999"]

# Row label -> overrides of the pacgan-<dataset> recipe ("{steps}" is filled in).
ROWS: dict[str, list[str]] = {
    "GAN": [],
    "PacGAN2": _pack(2),
    "PacGAN3": _pack(3),
    "PacGAN4": _pack(4),
    "Unrolled (5 steps)": [
        "algorithm.name=unrolled",
        "algorithm.unroll_steps=5",
        "algorithm.unroll_lr=1.0e-4",
        "algorithm.unroll_betas=[0.8, 0.999]",
    ],
    "WGAN-GP": [
        "objective.name=wgan-gp",
        "algorithm.n_critic=5",
        "optim.g.betas=[0.5, 0.9]",
        "optim.d.betas=[0.5, 0.9]",
    ],
    "instance noise": ["techniques=[{name: instance-noise, std: 0.1, anneal_steps: {half}}]"],
    "minibatch discrimination": _MBD,
    "candidate best: PacGAN4 + MBD": [*_pack(4), *_MBD],
    # exploration rows for the search of the best combination (only when named in --rows)
    "GAN (lr 1e-3)": _LR,
    "PacGAN4 (lr 1e-3)": [*_pack(4), *_LR],
    "PacGAN2 + MBD (lr 1e-3)": [*_pack(2), *_MBD, *_LR],
    "PacGAN4 (lr 1e-3 + decay + EMA)": [*_pack(4), *_LR, *_DECAY, *_EMA],
    "GAN (lr 1e-3 + decay + EMA)": [*_LR, *_DECAY, *_EMA],
    "GAN (lr 1e-3 + decay)": [*_LR, *_DECAY],
    "PacGAN2 (lr 1e-3 + decay)": [*_pack(2), *_LR, *_DECAY],
    "minibatch discrimination (lr 1e-3 + decay)": [*_MBD, *_LR, *_DECAY],
    "PacGAN2 (lr 1e-3 + decay + EMA)": [*_pack(2), *_LR, *_DECAY, *_EMA],
    "PacGAN2 (decay)": [*_pack(2), *_DECAY],
    "PacGAN4 (decay)": [*_pack(4), *_DECAY],
    "PacGAN2 (decay over 2nd half)": [*_pack(2), *_DECAY, "train.lr_decay_start={half}"],
}

#: Training length of the published 2-D rows: the PacGAN code's grid and ring configs set
#: num_epoch 400 over num_sample 100,000 at batch_size 100 (fjxmlzn/PacGAN,
#: synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py).
PUBLISHED_2D_STEPS = 400 * 100_000 // 100

# Published numbers, as quoted in the issue: (source, modes, % high quality). PacGAN
# Table 1 (Lin et al. 2018) and VEEGAN Table 1 (Srivastava et al. 2017, "2D Ring").
ANCHORS: dict[str, dict[str, tuple[str, float, float]]] = {
    "ring8": {
        "GAN": ("PacGAN T1", 6.3, 98.2),
        "PacGAN2": ("PacGAN T1", 7.9, 95.6),
        "GAN ": ("VEEGAN T1", 1.0, 99.3),
        "Unrolled": ("VEEGAN T1", 7.6, 35.6),
        "VEEGAN": ("VEEGAN T1", 8.0, 52.9),
    },
    "grid25": {
        "GAN": ("PacGAN T1", 17.3, 94.8),
        "PacGAN2": ("PacGAN T1", 23.8, 91.3),
        "PacGAN4": ("PacGAN T1", 24.8, 93.6),
    },
}

STACKED_ROWS: dict[str, list[str]] = {
    "DCGAN": [],
    "PacDCGAN2": ["algorithm.pack=2", "train.batch_size=128"],
}
# (modes of 1000, KL to uniform): VEEGAN Table 2 (DCGAN, Unrolled, VEEGAN) and PacGAN
# Table 3 (PacDCGAN2).
STACKED_ANCHORS: dict[str, tuple[str, float, float]] = {
    "DCGAN": ("VEEGAN T2", 99, 3.40),
    "Unrolled GAN": ("VEEGAN T2", 48.7, 4.32),
    "VEEGAN": ("VEEGAN T2", 150, 2.95),
    "PacDCGAN2": ("PacGAN T3", 1000, 0.06),
}


def _overrides(row: list[str], steps: int, device: str) -> list[str]:
    out = [o.replace("{half}", str(max(1, steps // 2))) for o in row]
    return [*out, *budget_overrides(steps, device)]


def one_run(
    part: str, label: str, dataset: str, seed: int, steps: int, device: str, threads: int
) -> dict[str, Any]:
    """Train one row with one seed; evaluate it; return the metrics and the card."""
    import torch

    torch.set_num_threads(threads)
    from ganforge.engine.run import train
    from ganforge.metrics.evaluate import evaluate_run

    if part == "2d":
        recipe, row, metric, n = f"pacgan-{dataset}", ROWS[label], "mode-coverage", 2500
    else:
        recipe, row, n = "dcgan-stacked-mnist", STACKED_ROWS[label], 26000
        metric = {"name": "stacked-mnist"}
        if SHARED_MNIST.is_dir():  # the team's copy; the product downloads otherwise
            row = [*row, f"data.root={SHARED_MNIST}"]
            metric["root"] = str(SHARED_MNIST)
    result: dict[str, Any] = {"label": label, "dataset": dataset, "seed": seed}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run = train(
                recipe,
                _overrides(row, steps, device),
                seed=seed,
                out=Path(tmp) / "run",
                progress=False,
            )
            t_train = time.perf_counter() - t0
            (card,) = evaluate_run(
                run,
                [metric],
                n=n,
                seed=10_000 + seed,
                device=device,
                progress=False,
                save=False,
            )
        except Exception as e:  # a diverged run is a result, not a crash of the table
            result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            result["seconds"] = time.perf_counter() - t0
            return result
    result.update(card.values)
    result["card"] = {**card.to_dict(), "row": label, "recipe": recipe, "overrides": row}
    result["card"]["fake"] = {k: v for k, v in result["card"]["fake"].items() if k != "source"}
    result["seconds"] = time.perf_counter() - t0
    result["train_seconds"] = t_train
    return result


def _key(label: str, dataset: str, seed: int, steps: int) -> tuple[str, str, int, int]:
    return (label, dataset, int(seed), int(steps))


def _key_of(r: dict[str, Any]) -> tuple[str, str, int, int]:
    return _key(r["label"], r["dataset"], r["seed"], r.get("steps", -1))


def _read_results(path: Path) -> list[dict[str, Any]]:
    """Finished runs of earlier invocations; a torn last line (a killed run) is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _append_result(path: Path, r: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _mean_se(values: list[float], fmt: str) -> str:
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return "-"
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return f"{fmt.format(v.mean())} ± {fmt.format(se)}"


def table_2d(results: list[dict[str, Any]], rows: list[str], datasets: list[str]) -> list[str]:
    lines = []
    for dataset in datasets:
        k = {"ring8": 8, "grid25": 25}[dataset]
        lines += [
            f"### {dataset}",
            "",
            f"| row | seeds | modes (of {k}) | % high quality | reverse KL | failed | s / run |",
            "|---|---|---|---|---|---|---|",
        ]
        for label in rows:
            rs = [r for r in results if r["label"] == label and r["dataset"] == dataset]
            if not rs:
                continue
            ok = [r for r in rs if "error" not in r]
            lines.append(
                f"| {label} | {len(rs)} | {_mean_se([r['modes_covered'] for r in ok], '{:.1f}')} "
                f"| {_mean_se([100 * r['high_quality'] for r in ok], '{:.1f}')} "
                f"| {_mean_se([r['reverse_kl'] for r in ok], '{:.3f}')} "
                f"| {len(rs) - len(ok)}/{len(rs)} | {np.mean([r['seconds'] for r in rs]):.0f} |"
            )
        lines += ["", "Published (for comparison; their training budget, not ours):", ""]
        lines += ["| row | source | modes | % high quality |", "|---|---|---|---|"]
        for label, (src, modes, hq) in ANCHORS[dataset].items():
            lines.append(f"| {label.strip()} | {src} | {modes} | {hq} |")
        lines.append("")
    lines += [
        f"Their budget: the PacGAN authors' 2-D configuration trains {PUBLISHED_2D_STEPS:,} "
        "steps (400 epochs of 100,000 samples at batch 100, with the D and G updates of "
        "ALI's training loop) and initialises every weight from N(0, 0.02^2), as the "
        "recipes here do.",
        "",
    ]
    return lines


def table_stacked(results: list[dict[str, Any]], rows: list[str]) -> list[str]:
    lines = [
        "| row | modes (of 1000) | KL to uniform | failed | s / run |",
        "|---|---|---|---|---|",
    ]
    for label in rows:
        rs = [r for r in results if r["label"] == label]
        if not rs:
            continue
        ok = [r for r in rs if "error" not in r]
        lines.append(
            f"| {label} | {_mean_se([r['modes_covered'] for r in ok], '{:.1f}')} "
            f"| {_mean_se([r['kl'] for r in ok], '{:.3f}')} | {len(rs) - len(ok)}/{len(rs)} "
            f"| {np.mean([r['seconds'] for r in rs]):.0f} |"
        )
    lines += ["", "Published (their full budget):", "", "| row | source | modes | KL |"]
    lines += ["|---|---|---|---|"]
    lines += [f"| {k} | {s} | {m} | {kl} |" for k, (s, m, kl) in STACKED_ANCHORS.items()]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--part", choices=("2d", "stacked"), default="2d")
    ap.add_argument("--steps", type=int, default=3000, help="critic steps per run")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per row")
    ap.add_argument("--rows", default=None, help="comma-separated row labels (default all)")
    ap.add_argument("--datasets", default="ring8,grid25", help="2-D part only")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs (CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    ap.add_argument("--cards", type=Path, default=None, help="write the cards (JSONL) here")
    ap.add_argument(
        "--results",
        type=Path,
        default=None,
        help="JSONL of finished runs: each run is appended as it ends, and runs already "
        "in the file (same row, dataset, seed, steps) are not run again, so a table can be "
        "filled over several sessions or machines",
    )
    ap.add_argument(
        "--table-only", action="store_true", help="run nothing: the table from --results"
    )
    args = ap.parse_args()
    if args.table_only and args.results is None:
        ap.error("--table-only needs --results")
    if min(args.steps, args.seeds, args.jobs, args.threads) <= 0:
        ap.error("--steps, --seeds, --jobs and --threads must be positive")
    all_rows = ROWS if args.part == "2d" else STACKED_ROWS
    rows = [r for r in all_rows if "(lr 1e-3" not in r]  # exploration rows: by name only
    if args.rows:
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in rows if r not in all_rows]
        if unknown:
            ap.error(f"unknown row(s) {unknown}; choose from {list(all_rows)}")
    datasets = (
        [d.strip() for d in args.datasets.split(",")] if args.part == "2d" else ["stacked-mnist"]
    )
    tasks = [
        (args.part, label, ds, seed, args.steps, args.device, args.threads)
        for label in rows
        for ds in datasets
        for seed in range(args.seeds)
    ]
    # the expensive rows first, so that the pool's tail is short
    tasks.sort(key=lambda t: "Unrolled" not in t[1])
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.results is not None and args.results.is_file():
        wanted = {_key(*t[1:5]) for t in tasks}
        results = [r for r in _read_results(args.results) if _key_of(r) in wanted]
        done = {_key_of(r) for r in results}
        tasks = [t for t in tasks if _key(*t[1:5]) not in done]
    if args.table_only:
        tasks = []
    if args.results is not None:
        print(f"{len(results)} run(s) from {args.results}; {len(tasks)} to run", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        futures = [pool.submit(one_run, *t) for t in tasks]
        for i, f in enumerate(futures, 1):
            r = f.result()
            r["steps"] = args.steps
            results.append(r)
            if args.results is not None:
                _append_result(args.results, r)
            status = r.get("error") or ", ".join(
                f"{k} {r[k]:.3g}"
                for k in ("modes_covered", "high_quality", "reverse_kl", "kl")
                if k in r
            )
            print(
                f"[{i}/{len(tasks)}] {r['label']} {r['dataset']} seed {r['seed']}: {status} "
                f"({r['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - t0
    cmd = "python benchmarks/mode_collapse.py " + shlex.join(sys.argv[1:])
    head = [
        f"## Mode collapse: {'2-D mixtures (PacGAN set-up)' if args.part == '2d' else 'Stacked MNIST'}",
        "",
        f"Command: `{cmd}`",
        "",
        f"Budget: {args.steps} critic steps per run, seeds 0..{args.seeds - 1}, device "
        f"{args.device}; this invocation's wall {wall / 60:.1f} min with {args.jobs} job(s) x "
        f"{args.threads} thread(s); runs {sum(r['seconds'] for r in results) / 3600:.2f} "
        "CPU-thread hours in all. Mean ± standard error over seeds.",
        "",
    ]
    body = table_2d(results, rows, datasets) if args.part == "2d" else table_stacked(results, rows)
    errors = sorted({f"{r['label']} {r['dataset']}: {r['error']}" for r in results if "error" in r})
    if errors:
        body += ["", "Failures:", ""] + [f"- {e}" for e in errors]
    text = "\n".join(head + body) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    if args.cards:
        write_cards(args.cards, results)


if __name__ == "__main__":
    main()
