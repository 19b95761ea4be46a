"""Every objective on ring8 and grid25 with one architecture and budget: mode coverage.

For each ``<objective>-ring8`` recipe (its objective, penalties, optimizers and
``n_critic`` as shipped), on ``ring8`` (8 Gaussians on the unit circle, std 0.01) and
``grid25`` (5x5 grid, std 0.05), over several seeds: train with ONE fixed architecture
and budget, draw 2,500 samples from the exported generator and score them with the
VEEGAN / PacGAN protocol (:func:`ganforge.metrics.toy.mode_metrics`): modes covered
(>= 1 sample within 3 std of its nearest centre), % high-quality samples (within 3 std
of the nearest centre), and the reverse KL between the generated distribution over
modes and the true uniform one (the "final estimated divergence" of issue 3).

Fixed architecture and budget (overriding the recipes):

- G and D: MLPs with 3 hidden layers of 128 units (ReLU in G, LeakyReLU 0.2 in D),
  latent dimension 2, batch 256, no EMA;
- ``--steps`` engine steps = critic updates (default 3,000). An objective with
  ``n_critic = k`` therefore makes steps / k generator updates: the budget is the
  critic's, as in a fixed-compute comparison. WGAN-style recipes with RMSprop 5e-5 are
  at a disadvantage under so small a budget; that is what the table shows.

PacGAN's own MLPs (G 4x400, D 3x200, 2,500 samples per evaluation, tens of thousands of
steps) are too slow for the goal of the whole table in < 30 minutes on 2 CPU cores:
~17 objectives x 2 datasets x 3 seeds = ~102 runs, i.e. ~35 s per run with two runs in
parallel. One run of the non-saturating GAN (3x128, batch 256) costs ~6.5 ms per step on
one core; 3,000 steps are ~20 s. Runs go to ``--jobs`` worker processes (default 2) with
one thread each.

A run that stops on a non-finite loss (or fails) counts in the "failed" column and is
left out of the means. Markdown goes to stdout (and to ``--out``).

    python benchmarks/objectives_2d.py                     # the full table (~25 min, 2 cores)
    python benchmarks/objectives_2d.py --only ns --seeds 1 --steps 200    # a check
    python benchmarks/objectives_2d.py --only wgan-gp,hinge --out benchmarks/results/x.md
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

DATASETS = ("ring8", "grid25")
HIDDEN = "[128, 128, 128]"


def objective_recipes() -> dict[str, str]:
    """{label: recipe} for every ``*-ring8`` recipe; gan-ring8 is the ``ns`` objective."""
    from ganforge.config import recipe_names

    out = {}
    for name in recipe_names():
        if name.endswith("-ring8"):
            label = name[: -len("-ring8")]
            out["ns" if label == "gan" else label] = name
    return out


def one_run(recipe: str, dataset: str, seed: int, steps: int) -> dict[str, Any]:
    """Train one recipe on one dataset with one seed; return its mode metrics."""
    import torch

    torch.set_num_threads(1)
    from ganforge import registry
    from ganforge.engine.run import load, train
    from ganforge.metrics.toy import mode_metrics

    overrides = [
        f"data.name={dataset}",
        f"nets.g.hidden={HIDDEN}",
        f"nets.d.hidden={HIDDEN}",
        "algorithm.latent_dim=2",
        "train.batch_size=256",
        f"train.steps={steps}",
        "train.ema=null",
        "train.tensorboard=false",
        f"train.sample_every={steps}",
        f"train.ckpt_every={steps}",
        f"train.log_every={max(1, min(100, steps))}",
    ]
    t0 = time.perf_counter()
    result: dict[str, Any] = {"recipe": recipe, "dataset": dataset, "seed": seed}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run = train(recipe, overrides, seed=seed, out=Path(tmp) / "run", progress=False)
            x = load(run).sample(2500, seed=10_000 + seed)
        except Exception as e:  # diverged (TrainingDiverged) or not supported yet
            result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            result["seconds"] = time.perf_counter() - t0
            return result
    registry.load_all()
    info = registry.DATASETS.build({"name": dataset}, "data").info
    m = mode_metrics(x, info["centers"], info["std"])
    result.update(
        modes=m["modes_covered"],
        n_modes=m["n_modes"],
        high_quality=m["high_quality"],
        reverse_kl=m["reverse_kl"],
        seconds=time.perf_counter() - t0,
    )
    return result


def _mean_std(values: list[float], fmt: str) -> str:
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return "-"
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{fmt.format(v.mean())} ± {fmt.format(sd)}"


def table(
    results: list[dict[str, Any]], labels: dict[str, str], datasets: tuple[str, ...] = DATASETS
) -> list[str]:
    lines = [
        "| objective | dataset | modes covered | % high quality | reverse KL | time / run (s) "
        "| failed |",
        "|---|---|---|---|---|---|---|",
    ]
    by_recipe = {v: k for k, v in labels.items()}
    for recipe in labels.values():
        for dataset in datasets:
            rs = [r for r in results if r["recipe"] == recipe and r["dataset"] == dataset]
            if not rs:
                continue
            ok = [r for r in rs if "error" not in r]
            k = ok[0]["n_modes"] if ok else {"ring8": 8, "grid25": 25}[dataset]
            modes = _mean_std([r["modes"] for r in ok], "{:.1f}")
            hq = _mean_std([100 * r["high_quality"] for r in ok], "{:.1f}")
            rkl = _mean_std([r["reverse_kl"] for r in ok], "{:.3f}")
            secs = np.mean([r["seconds"] for r in rs])
            failed = f"{len(rs) - len(ok)}/{len(rs)}"
            lines.append(
                f"| {by_recipe[recipe]} | {dataset} | {modes} (of {k}) | {hq} | {rkl} "
                f"| {secs:.1f} | {failed} |"
            )
    errors = sorted(
        {f"{r['recipe']} on {r['dataset']}: {r['error']}" for r in results if "error" in r}
    )
    if errors:
        lines += ["", "Failures:", ""] + [f"- {e}" for e in errors]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per cell (default 3)")
    ap.add_argument(
        "--steps", type=int, default=3000, help="engine (critic) steps per run (default 3000)"
    )
    ap.add_argument(
        "--only",
        default=None,
        help="comma-separated objectives (ns, wgan-gp, ...) or recipe names",
    )
    ap.add_argument("--datasets", default=",".join(DATASETS), help="default ring8,grid25")
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs, 1 thread each")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = ap.parse_args()
    if args.seeds <= 0 or args.steps <= 0 or args.jobs <= 0:
        ap.error("--seeds, --steps and --jobs must be positive")

    labels = objective_recipes()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in labels and w not in labels.values()]
        if unknown:
            ap.error(f"unknown objective(s) {unknown}; choose from {', '.join(labels)}")
        labels = {k: v for k, v in labels.items() if k in wanted or v in wanted}
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    tasks = [
        (recipe, dataset, seed, args.steps)
        for recipe in labels.values()
        for dataset in datasets
        for seed in range(args.seeds)
    ]
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        futures = [pool.submit(one_run, *t) for t in tasks]
        for i, f in enumerate(futures, 1):
            r = f.result()
            results.append(r)
            status = r.get("error") or (
                f"{r['modes']}/{r['n_modes']} modes, {100 * r['high_quality']:.0f}% HQ"
            )
            print(
                f"[{i}/{len(tasks)}] {r['recipe']} {r['dataset']} seed {r['seed']}: {status} "
                f"({r['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - t0

    import torch

    head = [
        "# Objectives on 2-D mixtures (VEEGAN / PacGAN protocol)",
        "",
        f"G/D MLP 3x128, latent 2, batch 256, {args.steps} critic steps per run, "
        f"{args.seeds} seed(s); 2,500 samples per run; high quality = within 3 std of the "
        "nearest centre; reverse KL = KL(generated mode histogram || uniform). "
        f"{len(tasks)} runs in {wall / 60:.1f} min with {args.jobs} parallel job(s) of 1 "
        f"thread, torch {torch.__version__}. Mean ± std over seeds.",
        "",
    ]
    text = "\n".join(head + table(results, labels, tuple(datasets))) + "\n"
    print(text)
    if args.out is not None:
        from ganforge.io import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
