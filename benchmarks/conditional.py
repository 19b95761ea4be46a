"""Conditional, AC-GAN and InfoGAN models on MNIST under a stated CPU budget.

Trains the shipped recipes ``cgan-mnist``, ``acgan-mnist`` (DCGAN networks at 32 x 32;
``--base`` channels, default 32 for CPU), ``infogan-mnist`` (the paper's MNIST networks
at 28 x 28), ``ssgan-mnist`` and ``bigan-mnist`` (the papers' MLPs at 28 x 28) for
``--steps`` critic steps each, then measures:

- cgan / acgan: **conditional accuracy**, the fraction of class-conditional samples that
  ``classifier:mnist`` (a small CNN, 98.7% test accuracy) assigns to the requested class
  (the ``conditional-accuracy`` metric, ``--n`` samples, classes in equal blocks), and
  FID and **intra-class FID** (Miyato & Koyama 2018: the FID of each class's samples
  against that class's real images, averaged) on the same classifier's 128-d features,
  ``--n`` samples against ``--n`` train images (Inception features would cost more than
  the training on a CPU; these values are on another scale than Inception FIDs);
- infogan: **code accuracy**, the categorical code read by the Q head on the 10,000 MNIST
  test images, used as a digit classifier under the best one-to-one mapping of codes to
  digits (:func:`ganforge.metrics.clustering.cluster_accuracy`; Chen et al. 2016 report
  5% error), and the traversal grids of its continuous codes (``--out-dir``);
- ssgan: the K+1 critic's test error on MNIST with 100 labels (Salimans et al. 2016:
  0.93% after many epochs);
- bigan: linear-probe accuracy (logistic regression on E(x), 10,000 train images) on
  MNIST test, beside the same probe on raw pixels.

``--only acgan-fakecls`` runs AC-GAN with ``critic_fake_class=true`` (the paper's L_C: the
critic's classifier also learns from generated samples; the recipe trains it on real
images only). ``--only infogan-uniform`` runs InfoGAN with ``noise=uniform`` (z ~ U(-1, 1),
as in the authors' MNIST code).

Goals from the issue: >= 95% conditional accuracy for cgan / acgan, <= 10% InfoGAN code
error within the budget. Runs go to ``--jobs`` processes with one thread each.

    python benchmarks/conditional.py --steps 3000 --out benchmarks/results/conditional.md
    python benchmarks/conditional.py --only infogan --steps 200      # a quick check
"""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _bench import SHARED_DATASETS, add_set_option, budget_overrides, parse_sets, write_cards

SHARED_MNIST = SHARED_DATASETS / "mnist"
ALGOS = ("cgan", "acgan", "infogan", "ssgan", "bigan", "acgan-fakecls", "infogan-uniform")
RECIPES = {
    "ssgan": "ssgan-mnist",
    "acgan-fakecls": "acgan-mnist",
    "infogan-uniform": "infogan-mnist",
}  # others: <algo>-mnist
# variants: extra overrides of their recipe
EXTRA = {
    "acgan-fakecls": ["algorithm.critic_fake_class=true"],
    "infogan-uniform": ["algorithm.noise=uniform"],
}
# recipes with DCGAN networks, whose width --base sets
DCGAN = ("cgan", "acgan", "acgan-fakecls")


def _overrides(steps: int, base: int, device: str) -> list[str]:
    """Budget overrides; ``base`` > 0 sets the DCGAN width (the MLP recipes have none)."""
    out = [f"nets.g.base_channels={base}", f"nets.d.base_channels={base}"] if base else []
    out += budget_overrides(steps, device)
    if SHARED_MNIST.is_dir():  # the team's copy; the product downloads otherwise
        out.append(f"data.root={SHARED_MNIST}")
    return out


def split(cfg: Any, name: str) -> Any:
    from ganforge import registry

    return registry.DATASETS.build(dict(cfg.data, split=name), "data")


def apply(fn: Any, data: Any, n: int | None = None) -> tuple[Any, Any]:
    """fn over the dataset's float images in batches of 500: (outputs, labels)."""
    import torch

    total = len(data) if n is None else min(n, len(data))
    outs = []
    with torch.no_grad():  # dataset.batch gives float images in [-1, 1]
        for i in range(0, total, 500):
            outs.append(fn(data.batch(torch.arange(i, min(i + 500, total)))["real"]).cpu())
    return torch.cat(outs), data.tensors["label"][:total].cpu()


def infogan_code_accuracy(run: Path) -> dict[str, Any]:
    """The Q head's categorical code on MNIST test as a digit classifier (best mapping)."""
    from ganforge.engine.run import load_trained
    from ganforge.metrics.clustering import cluster_accuracy

    algo, cfg = load_trained(run)
    k = algo.categorical
    codes, y = apply(lambda x: algo.nets["d"](x).aux[:, :k].argmax(1), split(cfg, "test"))
    acc, mapping = cluster_accuracy(codes.numpy(), y.numpy())
    return {"code_accuracy": acc, "code_error": 1 - acc, "mapping": mapping, "n_test": len(y)}


def ssgan_test_error(run: Path) -> dict[str, Any]:
    """The K+1 critic as a classifier on the 10,000 MNIST test images."""
    from ganforge.engine.run import load_trained

    algo, cfg = load_trained(run)
    pred, y = apply(algo.classify, split(cfg, "test"))
    return {"test_error": float((pred != y).float().mean()), "labels": algo.n_labels}


def bigan_linear_probe(run: Path, n_train: int = 10000) -> dict[str, Any]:
    """Logistic regression on E(x): fit on n_train MNIST train images, test on MNIST test."""
    from sklearn.linear_model import LogisticRegression

    from ganforge.engine.run import load_trained

    algo, cfg = load_trained(run)
    f_train, y_train = apply(algo.encode, split(cfg, "train"), n_train)
    f_test, y_test = apply(algo.encode, split(cfg, "test"))
    clf = LogisticRegression(max_iter=2000).fit(f_train.numpy(), y_train.numpy())
    # the same probe on raw pixels: what the encoder has to beat
    p_train, _ = apply(lambda x: x.flatten(1), split(cfg, "train"), n_train)
    p_test, _ = apply(lambda x: x.flatten(1), split(cfg, "test"))
    pix = LogisticRegression(max_iter=2000).fit(p_train.numpy(), y_train.numpy())
    return {
        "probe_accuracy": float(clf.score(f_test.numpy(), y_test.numpy())),
        "pixel_probe_accuracy": float(pix.score(p_test.numpy(), y_test.numpy())),
        "n_train": n_train,
    }


def one_run(
    algo: str,
    steps: int,
    base: int,
    n: int,
    device: str,
    out_dir: str | None,
    extra: tuple[str, ...] = (),
    threads: int = 1,
) -> dict:
    import torch

    torch.set_num_threads(threads)
    from ganforge.engine.run import load, load_trained, train
    from ganforge.metrics.evaluate import evaluate_run
    from ganforge.reports import save_image_grid

    t0 = time.perf_counter()
    result: dict[str, Any] = {"algo": algo, "steps": steps}
    with tempfile.TemporaryDirectory() as tmp:
        dcgan = algo in DCGAN
        run = train(
            RECIPES.get(algo, f"{algo}-mnist"),
            [*_overrides(steps, base if dcgan else 0, device), *EXTRA.get(algo, []), *extra],
            out=Path(tmp) / "run",
            progress=False,
        )
        result["train_seconds"] = time.perf_counter() - t0
        gen = load(run, device=device)
        if algo == "ssgan":
            result.update(ssgan_test_error(run))
        elif algo == "bigan":
            result.update(bigan_linear_probe(run))
            if out_dir:  # row 1: test images x, row 2: reconstructions G(E(x))
                bigan, cfg = load_trained(run)
                x = split(cfg, "test").batch(torch.arange(10))["real"]
                with torch.no_grad():
                    recon = bigan.nets["g"](bigan.encode(x))
                grid = torch.cat([x, recon]).float().cpu()
                save_image_grid(grid, Path(out_dir) / "bigan_reconstructions.png", nrow=10)
        elif algo.startswith("infogan"):
            result.update(infogan_code_accuracy(run))
            if out_dir:  # samples: one categorical code per row, the noise varied along it
                x = gen.traverse(None, steps=10, seed=0).float().cpu()
                save_image_grid(x, Path(out_dir) / f"{algo}_samples.png", nrow=10)
                for j in range(gen.codes[1]):
                    path = Path(out_dir) / f"{algo}_code{j}.png"
                    save_image_grid(gen.traverse(j, steps=10, seed=0).float().cpu(), path, nrow=10)
        else:
            # Accuracy on classifier:mnist's logits; FID and intra-FID on its 128-d features
            # (Inception on 2 x n images is too slow for a CPU budget; the values are not
            # comparable with Inception FIDs), against the train split, n samples each.
            root = {"root": str(SHARED_MNIST)} if SHARED_MNIST.is_dir() else {}
            extractor = {"name": "classifier", "dataset": "mnist", **root}
            cards = evaluate_run(
                run,
                [{"name": "conditional-accuracy", **root}, "fid", "intra-fid"],
                n=n,
                device=device,
                progress=False,
                save=False,
                extractor=extractor,
            )
            acc, fid, intra = cards
            result.update(accuracy=acc.value, per_class=acc.values["per_class"])
            result.update(fid=fid.value, intra_fid=intra.value)
            result["cards"] = []
            for card in cards:
                d = {**card.to_dict(), "recipe": RECIPES.get(algo, f"{algo}-mnist")}
                d["overrides"] = [*EXTRA.get(algo, []), *extra]
                d["fake"] = {k: v for k, v in card.fake.items() if k != "source"}
                result["cards"].append(d)
        if out_dir and not algo.startswith("infogan"):
            x = gen.sample(100, seed=0).float().cpu()
            save_image_grid(x, Path(out_dir) / f"{algo}_samples.png", nrow=10)
    result["seconds"] = time.perf_counter() - t0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=3000, help="critic steps per model")
    ap.add_argument("--base", type=int, default=32, help="DCGAN base channels (paper: 64)")
    ap.add_argument("--n", type=int, default=10000, help="samples for conditional accuracy")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(ALGOS)}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per model")
    add_set_option(ap, "infogan:algorithm.cont_weight=0.05")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    ap.add_argument("--cards", type=Path, default=None, help="write the cards (JSONL) here")
    ap.add_argument("--out-dir", type=Path, default=None, help="sample grids go here")
    args = ap.parse_args()
    default = [a for a in ALGOS if a not in EXTRA]  # variants only when named
    algos = [a.strip() for a in (args.only or ",".join(default)).split(",") if a.strip()]
    bad = [a for a in algos if a not in ALGOS]
    if bad or min(args.steps, args.base, args.n, args.jobs, args.threads) <= 0:
        ap.error(f"unknown model(s) {bad} or non-positive --steps/--base/--n/--jobs/--threads")
    extra = parse_sets(ap, args.set, ALGOS)
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        out_dir = str(args.out_dir) if args.out_dir else None
        common = (args.steps, args.base, args.n, args.device, out_dir)
        futures = [
            pool.submit(one_run, a, *common, tuple(extra.get(a, ())), args.threads) for a in algos
        ]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    lines = [
        "## Conditional models on MNIST",
        "",
        f"Command: `python benchmarks/conditional.py {shlex.join(sys.argv[1:])}`",
        "",
        f"Budget: {args.steps} critic steps per model (the recipes' batch sizes; DCGAN base "
        f"{args.base} for cgan/acgan, infogan with the paper's MNIST nets), "
        f"device {args.device}, {args.threads} thread(s) per model; wall {wall / 60:.1f} min.",
        "",
        "| model | measure | value | goal | train time (min) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        if r["algo"].startswith("infogan"):
            value, measure, goal = (
                f"{100 * r['code_error']:.1f}% error",
                "code as classifier",
                "<= 10% (paper 5%)",
            )
        elif r["algo"] == "ssgan":
            value = f"{100 * r['test_error']:.2f}% error"
            measure, goal = f"test error, {r['labels']} labels", "report (paper 0.93%)"
        elif r["algo"] == "bigan":
            value = (
                f"{100 * r['probe_accuracy']:.1f}% (pixels {100 * r['pixel_probe_accuracy']:.1f}%)"
            )
            measure, goal = f"linear probe on E(x) ({r['n_train']} train)", "report"
        else:
            value, measure, goal = f"{100 * r['accuracy']:.1f}%", "conditional accuracy", ">= 95%"
        minutes = f"{r['train_seconds'] / 60:.1f}"
        lines.append(f"| {r['algo']} | {measure} | {value} | {goal} | {minutes} |")
        if "intra_fid" in r:
            for key, name in (("fid", "FID"), ("intra_fid", "intra-FID")):
                measure = f"{name} (classifier:mnist features, {args.n} vs train)"
                lines.append(f"| {r['algo']} | {measure} | {r[key]:.2f} | report | {minutes} |")
    for r in results:
        if "per_class" in r:
            pc = ", ".join(f"{100 * v:.0f}" for v in r["per_class"])
            lines.append(f"\n{r['algo']} per class (%): {pc}")
        if "mapping" in r:
            lines.append(f"\n{r['algo']} code -> digit: {r['mapping']}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.cards:
        write_cards(args.cards, results)


if __name__ == "__main__":
    main()
