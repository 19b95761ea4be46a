"""The ``ganforge`` command.

Errors a user can cause print one paragraph (what is wrong, what to do) and exit
non-zero, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from ganforge.errors import ConfigError, GanforgeError, TrainingInterrupted

EXAMPLES = """\
examples:
  ganforge train                                 the default recipe (gan-digits), offline, minutes on a CPU
  ganforge train dcgan-mnist --set train.steps=20000 --set optim.d.lr=4e-4
  ganforge train gan-ring8 --seed 3 --out runs/ring8-seed3
  ganforge resume runs/dcgan-mnist-0001           exact continuation after a crash
  ganforge sample runs/dcgan-mnist-0001 --n 64 --out grid.png
  ganforge eval runs/dcgan-mnist-0001 --metrics fid,kid,prdc --n 10000
  ganforge compare runs/dcgan-mnist-*             table across runs, mean +- std over seeds
  ganforge zoo                                    every registered component with its paper
  ganforge lab --runs runs                        the browser lab on http://127.0.0.1:8765/
  ganforge data list
  ganforge data prepare mnist                     download + verify into $GANFORGE_DATA
"""


EVAL_EXAMPLES = """\
examples:
  ganforge eval runs/dcgan-mnist-0001 --metrics fid,kid,prdc --n 10000 --ref test
  ganforge eval runs/gan-digits-0001 --metrics fid,is --extractor classifier:digits
  ganforge eval runs/gan-ring8-0001 --metrics mode-coverage --n 2500
  ganforge eval --real data/real_pngs --fake out/fake_pngs --metrics fid,kid
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganforge",
        description="Train, sample and inspect generative adversarial networks.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ganforge import __version__

    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a recipe",
        description="Train a recipe (a shipped name or a YAML path) into a new run dir.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "recipe", nargs="?", default=None, help="recipe name or YAML file (default: gan-digits)"
    )
    t.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=500 (repeatable)",
    )
    t.add_argument("--seed", type=int, default=None, help="random seed (overrides the recipe)")
    t.add_argument("--out", type=Path, default=None, help="run dir (default: runs/<recipe>-NNNN)")
    t.add_argument(
        "--runs", type=Path, default=Path("runs"), help="where new run dirs go (default: runs)"
    )
    t.add_argument(
        "--data-dir", type=Path, default=None, help="local copy of the dataset (sets data.root)"
    )
    t.add_argument("--steps", type=int, default=None, help="shorthand for --set train.steps=N")
    t.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="leave unreadable files of image-folder datasets out, with a warning each "
        "(shorthand for --set data.skip_bad_files=true)",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser("resume", help="continue a run from its latest checkpoint, exactly")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--steps", type=int, default=None, help="new total number of steps")
    r.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("sample", help="draw samples from a run's exported generator")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--label",
        type=int,
        default=None,
        help="class of every sample (conditional models; default: one class per row)",
    )
    s.add_argument(
        "--code",
        default=None,
        help="InfoGAN: one categorical code per row; 'cat' varies the noise along a row, "
        "an index J varies continuous code J from -2 to 2",
    )
    s.add_argument(
        "--out", type=Path, default=Path("samples.png"), help="PNG grid (or scatter for 2-D)"
    )

    for cmd, what in (
        ("translate", "translate a folder of images with a run's image-to-image generator"),
        ("upscale", "super-resolve a folder of images with a run's SR generator (SRGAN)"),
    ):
        tr = sub.add_parser(cmd, help=what)
        tr.add_argument("run_dir", type=Path)
        tr.add_argument("--input", type=Path, required=True, help="an image or a folder")
        tr.add_argument("--out", type=Path, required=True, help="folder for the PNG results")
        if cmd == "translate":
            tr.add_argument(
                "--keep-size",
                action="store_true",
                help="translate at the images' own size (default: resize to the training "
                "size; the generator needs sides divisible by its downsampling factor)",
            )
            tr.add_argument(
                "--domain", type=int, default=None, help="target domain (StarGAN models)"
            )
        tr.add_argument("--device", default="cpu")

    ev = sub.add_parser(
        "eval",
        help="score a run (or two image folders) with FID, KID, IS, PRDC, ...",
        description="Evaluate a run's exported generator against its dataset, or a folder "
        "of generated images against a folder of real ones. Each score is saved with its "
        "evaluation card (extractor, weights sha256, preprocessing, sample counts, seeds) "
        "in RUN_DIR/cards and printed as a table.",
        epilog=EVAL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("run_dir", type=Path, nargs="?", default=None, help="a run dir")
    ev.add_argument("--real", type=Path, default=None, help="folder/.zip of real images")
    ev.add_argument("--fake", type=Path, default=None, help="folder/.zip of generated images")
    ev.add_argument(
        "--metrics", default="fid", help="comma-separated metric names (default fid; see zoo)"
    )
    ev.add_argument("--n", type=int, default=None, help="generated samples (default 10000)")
    ev.add_argument("--n-real", type=int, default=None, help="real samples (default: --n)")
    ev.add_argument(
        "--ref", default="train", help="reference split of the run's dataset (default train)"
    )
    ev.add_argument(
        "--extractor",
        default=None,
        help="inception-fid (default for images), classifier:<dataset>, identity",
    )
    ev.add_argument("--inception-weights", default=None, help="Inception weight file")
    ev.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=3,
        help="with --real/--fake: read the images as grey (1) or RGB (3, default)",
    )
    ev.add_argument("--seed", type=int, default=0, help="sample and metric seed (default 0)")
    ev.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ev.add_argument("--batch-size", type=int, default=250)
    ev.add_argument("--no-cache", action="store_true", help="recompute reference statistics")
    ev.add_argument("--no-progress", action="store_true")

    cp = sub.add_parser(
        "compare",
        help="a table of evaluation cards across runs (mean +- std over seeds)",
        description="Compare runs by their evaluation cards. Runs whose configs differ only "
        "by seed are grouped (mean +- std). Scores measured differently (other extractor, "
        "sample count, reference split, ...) are never put side by side.",
    )
    cp.add_argument("run_dirs", type=Path, nargs="+")
    cp.add_argument("--metrics", default=None, help="comma-separated (default: all in common)")
    cp.add_argument("--plot", type=Path, default=None, help="also save a bar chart (PNG)")

    fe = sub.add_parser(
        "features",
        help="the critic as a feature extractor: linear L2-SVM probe (Radford et al. 2016)",
        description="Max-pool every critic activation map to 4x4, concatenate, and fit a "
        "linear L2-SVM (C chosen on a validation split) on labelled images; report test "
        "accuracy, and with --labels the error with that many labels (averaged over --draws "
        "random label draws). The run's dataset is used unless --dataset is given.",
    )
    fe.add_argument("run_dir", type=Path)
    fe.add_argument("--probe", choices=("l2-svm",), default="l2-svm")
    fe.add_argument(
        "--dataset", default=None, help="mnist, fashion-mnist, cifar10 (default: the run's)"
    )
    fe.add_argument("--root", default=None, help="local copy of the dataset")
    fe.add_argument(
        "--labels", type=int, default=None, help="total labels, e.g. 1000 (100 per class)"
    )
    fe.add_argument("--draws", type=int, default=10, help="label draws to average (default 10)")
    fe.add_argument("--n-train", type=int, default=None, help="training images (default all)")
    fe.add_argument("--n-test", type=int, default=None, help="test images (default all)")
    fe.add_argument("--device", default="cpu")

    sub.add_parser("zoo", help="every registered component, one line each with its paper")
    sub.add_parser("recipes", help="list the shipped recipes")

    th = sub.add_parser(
        "theory",
        help="GAN theory: generator-loss curves, divergences vs trained critics",
        description="Closed-form GAN theory, checked numerically (ganforge.theory).",
        epilog=THEORY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = th.add_subparsers(dest="theory_command", metavar="ACTION")
    gl = tsub.add_parser(
        "gen-losses",
        help="plot the minimax, non-saturating and ML generator losses (Goodfellow 2016)",
        description="Plot the three generator losses of the original GAN against D(G(z)), "
        "values and gradients with respect to the critic's logit (Goodfellow 2016, NIPS "
        "tutorial, Fig. 16).",
    )
    gl.add_argument(
        "--out", type=Path, default=Path("gen-losses.png"), help="PNG (default gen-losses.png)"
    )
    dv = tsub.add_parser(
        "divergences",
        help="closed-form divergences vs the value a trained critic reaches",
        description="For two fixed 1-D Gaussians, train a small MLP critic per objective "
        "(original GAN, the eight f-GANs, LSGAN, hinge, WGAN-GP) and compare the divergence "
        "its value maps to with the closed form. Seconds on a CPU.",
    )
    dv.add_argument(
        "--steps", type=int, default=500, help="critic steps per objective (default 500)"
    )
    dv.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dv.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="ROW",
        help="run only this row (repeatable), e.g. --only gan --only fgan-kl",
    )

    lab = sub.add_parser(
        "lab",
        help="the browser lab: live 2-D training and a browser of your runs",
        description="Start the lab's local web server and print its address. The "
        "playground trains 2-D GANs live with ganforge's own code; the runs page shows the "
        "run dirs under --runs (read-only). No authentication: keep the default host.",
    )
    lab.add_argument(
        "--runs", type=Path, default=Path("runs"), help="run dirs to browse (default: runs)"
    )
    lab.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    lab.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0: any free)")

    d = sub.add_parser("data", help="list or prepare datasets")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.add_parser("list", help="datasets, whether they work offline, whether cached")
    pr = dsub.add_parser("prepare", help="download and verify a dataset into the cache")
    pr.add_argument("name")
    pr.add_argument("--data-dir", type=Path, default=None, help="verify a local copy instead")
    return p


def _cmd_train(a: argparse.Namespace) -> None:
    from ganforge.engine.run import train

    overrides = list(a.overrides)
    if a.steps is not None:
        overrides.append(f"train.steps={a.steps}")
    if a.data_dir is not None:
        overrides.append(f"data.root={a.data_dir}")
    if a.skip_bad_files:
        overrides.append("data.skip_bad_files=true")
    run_dir = train(
        a.recipe, overrides, seed=a.seed, out=a.out, runs_root=a.runs, progress=not a.no_progress
    )
    _done(run_dir)


def _done(run_dir: Path) -> None:
    import os

    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 speaks for the run
        return
    from rich.console import Console

    Console().print(
        f"[green]done[/green]: {run_dir}  (samples in {run_dir / 'samples'}, "
        f"generator in {run_dir / 'generator.safetensors'})"
    )


def _cmd_resume(a: argparse.Namespace) -> None:
    from ganforge.engine.run import resume

    _done(resume(a.run_dir, a.steps, progress=not a.no_progress))


def _cmd_sample(a: argparse.Namespace) -> None:
    import torch

    from ganforge.engine.run import load
    from ganforge.reports import save_image_grid, scatter_2d

    if a.n <= 0:
        raise ConfigError(f"--n must be positive, got {a.n}.")
    gen = load(a.run_dir)
    k, nrow, labels = gen.num_classes, None, None
    if a.code is not None:
        if a.code != "cat" and not a.code.isdigit():
            raise ConfigError(f"--code is 'cat' or a continuous code index, got {a.code!r}.")
        steps = 10
        x = gen.traverse(None if a.code == "cat" else int(a.code), steps, a.seed).float()
        save_image_grid(x, a.out, nrow=steps)
        print(f"wrote {a.out}")
        return
    if a.label is not None:
        if not k:
            raise ConfigError(f"{a.run_dir} holds an unconditional generator: drop --label.")
        if not 0 <= a.label < k:
            raise ConfigError(f"--label must be a class in 0..{k - 1}, got {a.label}.")
        labels = torch.full((a.n,), a.label, dtype=torch.long)
    elif k:  # one class per row: n // K samples of each class
        nrow = max(1, a.n // k)
        a.n = nrow * k
    x = gen.sample(a.n, a.seed, labels=labels).float()
    if gen.kind == "images":
        save_image_grid(x, a.out, nrow=nrow)
    else:
        scatter_2d(x[:, :2], None, a.out, title=f"{a.n} samples")
    print(f"wrote {a.out}")


def _cmd_translate(a: argparse.Namespace) -> None:
    """``ganforge translate`` / ``ganforge upscale``: every image of --input through the
    exported generator, written as PNG (same file stem) into --out."""
    import numpy as np
    import torch
    from PIL import Image

    from ganforge.data.base import float_to_uint8, uint8_to_float
    from ganforge.data.image_folder import _decode, _is_image_name
    from ganforge.engine.run import load
    from ganforge.io import atomic_write_bytes

    gen = load(a.run_dir, device=a.device)
    if not gen.translates:
        raise ConfigError(
            f"{a.run_dir} holds a noise-to-image generator; `ganforge {a.command}` needs an "
            "image-to-image run (pix2pix, cyclegan, stargan, srgan, ...). Use `ganforge sample`."
        )
    spec = gen.translation
    in_shape, out_shape = spec.get("in_shape"), spec.get("out_shape")
    is_sr = bool(in_shape and out_shape and out_shape[1] > in_shape[1])
    if a.command == "upscale" and not is_sr:
        raise ConfigError(f"{a.run_dir} is not a super-resolution run: use `ganforge translate`.")
    if a.command == "translate" and is_sr:
        raise ConfigError(f"{a.run_dir} is a super-resolution run: use `ganforge upscale`.")
    domains = int(spec.get("domains", 0))
    domain = getattr(a, "domain", None)
    if domains and domain is None:
        raise ConfigError(
            f"this model translates into {domains} domains: add --domain 0..{domains - 1}."
        )
    if domain is not None and not 0 <= domain < max(domains, 1):
        raise ConfigError(
            "--domain is only for multi-domain (StarGAN) models."
            if not domains
            else f"--domain must be in 0..{domains - 1}, got {domain}."
        )
    if a.input.is_file():
        files = [a.input]
    elif a.input.is_dir():
        files = sorted(p for p in a.input.rglob("*") if p.is_file() and _is_image_name(p.name))
    else:
        raise ConfigError(f"--input {a.input} does not exist: give an image file or a folder.")
    if not files:
        raise ConfigError(f"--input {a.input} holds no images (.png, .jpg, ...).")
    stems = [p.stem for p in files]
    if len(set(stems)) != len(stems):
        raise ConfigError("--input has several images with the same name; outputs would collide.")
    channels = int(in_shape[0]) if in_shape else 3
    resize = a.command == "translate" and not a.keep_size and in_shape is not None
    a.out.mkdir(parents=True, exist_ok=True)
    for path in _progress(files, f"{a.command} {len(files)} images"):
        im = _decode(path.read_bytes(), path.name, path.parent, "L" if channels == 1 else "RGB")
        if resize and im.size != (in_shape[2], in_shape[1]):
            im = im.resize((in_shape[2], in_shape[1]), Image.Resampling.BICUBIC)
        arr = np.asarray(im, dtype=np.uint8)
        x = torch.from_numpy(arr.copy()).view(arr.shape[0], arr.shape[1], -1).permute(2, 0, 1)
        labels = None if domain is None else torch.tensor([domain])
        try:
            y = gen.translate(uint8_to_float(x[None]), labels=labels)[0]
        except ValueError as e:  # the network refuses this size
            raise ConfigError(f"{path.name}: {e}") from None
        out = float_to_uint8(y).permute(1, 2, 0).numpy()
        buf = io.BytesIO()
        Image.fromarray(out[..., 0] if out.shape[2] == 1 else out).save(buf, format="PNG")
        atomic_write_bytes(a.out / f"{path.stem}.png", buf.getvalue())
    print(f"wrote {len(files)} images to {a.out}")


def _progress(items: list[Any], description: str) -> Any:
    """Iterate with a progress bar on a terminal (plain iteration otherwise)."""
    from rich.progress import track

    return track(items, description=description, disable=not sys.stderr.isatty())


def _metric_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise ConfigError("--metrics is empty; e.g. --metrics fid,kid")
    return names


def _console() -> Any:
    """A rich console; when output is not a terminal (a file, a pipe, a test) it is wide,
    so that tables are not cut into narrow wrapped columns."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=200)


def _print_cards(cards: list[Any], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in ("metric", "value", "details", "extractor", "n_fake", "n_real", "reference"):
        table.add_column(col)
    for c in cards:
        others = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in c.values.items()
            if k != c.primary
        )
        ref = c.reference or {}
        data = ref.get("data", {})
        table.add_row(
            c.metric,
            f"{c.value:.4f}",
            others,
            c.extractor or "-",
            str(c.n_fake),
            str(c.n_real or "-"),
            f"{data.get('name', '-')}/{data.get('split', '-')}" if data else "-",
        )
    _console().print(table)


def _cmd_eval(a: argparse.Namespace) -> None:
    from ganforge.metrics.evaluate import evaluate_folders, evaluate_run

    metrics = _metric_list(a.metrics) or ["fid"]
    for name, v in (("--n", a.n), ("--n-real", a.n_real), ("--batch-size", a.batch_size)):
        if v is not None and v <= 0:
            raise ConfigError(f"{name} must be positive, got {v}.")
    common = {
        "n_real": a.n_real,
        "seed": a.seed,
        "extractor": a.extractor,
        "inception_weights": a.inception_weights,
        "device": a.device,
        "batch_size": a.batch_size,
        "cache": not a.no_cache,
        "progress": not a.no_progress,
    }
    if a.run_dir is not None:
        if a.real is not None or a.fake is not None:
            raise ConfigError("give either a run dir or --real DIR --fake DIR, not both.")
        cards = evaluate_run(a.run_dir, metrics, n=a.n or 10_000, ref=a.ref, **common)
        _print_cards(cards, f"{a.run_dir}")
        print(f"cards saved in {a.run_dir / 'cards'}")
        return
    if a.real is None or a.fake is None:
        raise ConfigError("give a run dir, or both --real DIR and --fake DIR.")
    for d in (a.real, a.fake):
        if not d.exists():
            raise ConfigError(f"{d} does not exist.")
    cards = evaluate_folders(a.real, a.fake, metrics, n=a.n, channels=a.channels, **common)
    _print_cards(cards, f"{a.fake} vs {a.real}")


def _cmd_features(a: argparse.Namespace) -> None:
    import json

    from ganforge.io import atomic_write_text
    from ganforge.metrics.probe import probe_run

    for name in ("labels", "draws", "n_train", "n_test"):
        v = getattr(a, name)
        if v is not None and v <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {v}.")
    print("extracting critic features ...")
    res = probe_run(
        a.run_dir, dataset=a.dataset, root=a.root, labels=a.labels, draws=a.draws,
        n_train=a.n_train, n_test=a.n_test, device=a.device, progress=True,
    )  # fmt: skip
    if a.labels is None:
        print(f"L2-SVM on {res['dims']} features, {res['n_train']} labelled train images: "
              f"test accuracy {100 * res['accuracy']:.2f}% (C={res['C']})")  # fmt: skip
    else:
        print(f"L2-SVM with {a.labels} labels ({res['draws']} draws): test error "
              f"{100 * res['error']:.2f}% +- {100 * res['std']:.2f}%")  # fmt: skip
    out = a.run_dir / f"probe-{res['dataset']}.json"
    atomic_write_text(out, json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")


def _cmd_compare(a: argparse.Namespace) -> None:
    from rich.table import Table

    from ganforge.metrics.cards import compare_runs

    comp = compare_runs(a.run_dirs, _metric_list(a.metrics))
    table = Table(title="mean +- std across seeds")
    table.add_column("runs")
    table.add_column("n")
    for col in comp.columns:
        table.add_column(col + (" (lower better)" if comp.lower_is_better[col] else ""))
    for label, count, stats in comp.rows:
        cells = [f"{m:.4g} +- {s:.2g}" if count > 1 else f"{m:.4g}" for m, s in stats.values()]
        table.add_row(label, str(count), *cells)
    _console().print(table)
    if a.plot is not None:
        from ganforge.reports import comparison_bars

        print(f"wrote {comparison_bars(comp.columns, comp.rows, a.plot)}")


def _cmd_zoo(a: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.markup import escape

    from ganforge import registry

    registry.load_all()
    console = Console()
    for kind, reg in registry.ALL.items():
        console.print(f"[bold]{kind}[/bold] ({len(reg)})")
        width = max((len(n) for n in reg.names()), default=4)
        for e in reg.entries():
            # one line per entry: name, paper, and (objectives) the divergence minimised
            divergence = getattr(e.obj, "divergence", "") if kind == "objectives" else ""
            tail = f"  [dim]{escape(str(divergence))}[/dim]" if divergence else ""
            head = escape(e.paper)
            if kind == "techniques":  # the failure it targets first: lines are cut at the edge
                head = f"{escape(getattr(e.obj, 'targets', ''))} [dim]- {head}[/dim]"
            console.print(
                f"  [bold cyan]{e.name:<{width}}[/bold cyan]  {head}{tail}",
                no_wrap=True,
                overflow="ellipsis",
                soft_wrap=False,
            )
        if kind == "techniques":  # techniques that are options of nets/algorithms/trainer
            from ganforge.techniques.base import OPTIONS

            console.print("  [dim]options (set in the recipe as shown):[/dim]")
            width = max(len(name) for name, *_ in OPTIONS)
            for name, how, paper, targets in OPTIONS:
                console.print(
                    f"  [bold cyan]{name:<{width}}[/bold cyan]  {escape(targets)} "
                    f"[dim]- {escape(paper)}[/dim]  [green]{escape(how)}[/green]",
                    no_wrap=True,
                    overflow="ellipsis",
                    soft_wrap=False,
                )
        console.print()


def _cmd_recipes(a: argparse.Namespace) -> None:
    from ganforge.config import DEFAULT_RECIPE, read_recipe, recipe_names

    for name in recipe_names():
        r = read_recipe(name)
        tag = " (default)" if name == DEFAULT_RECIPE else ""
        print(f"{name:24s} {r.get('description', '')}{tag}")


def _cmd_data(a: argparse.Namespace) -> None:
    from ganforge import data

    if a.data_command == "list":
        from rich.console import Console
        from rich.table import Table

        table = Table()
        for col in ("name", "offline", "cached", "description"):
            table.add_column(col)
        for row in data.list_datasets():
            table.add_row(
                *(str(row.get(k, "")) for k in ("name", "offline", "cached", "description"))
            )
        Console().print(table)
    elif a.data_command == "prepare":
        from ganforge import registry

        registry.DATASETS.entry(a.name, "data prepare")
        path = data.prepare(a.name, root=str(a.data_dir) if a.data_dir else None)
        where = f"in {path}" if path is not None else "(bundled or generated: works offline)"
        print(f"{a.name}: ready {where}")
    else:
        raise ConfigError("`ganforge data` needs an action: list or prepare NAME.")


def _cmd_lab(a: argparse.Namespace) -> None:
    from ganforge.lab import serve

    serve(a.runs, a.host, a.port)


THEORY_EXAMPLES = """\
examples:
  ganforge theory gen-losses --out gen-losses.png
  ganforge theory divergences --steps 1000 --seed 1
  ganforge theory divergences --only gan --only wgan-gp
"""


def _cmd_theory(a: argparse.Namespace) -> None:
    if a.theory_command == "gen-losses":
        from ganforge.theory.plots import plot_generator_losses

        print(f"wrote {plot_generator_losses(a.out)}")
    elif a.theory_command == "divergences":
        from rich.console import Console
        from rich.table import Table

        from ganforge.theory.critics import (
            DEFAULT_DATA,
            DEFAULT_MODEL,
            TABLE_KEYS,
            divergence_table,
        )

        if a.steps <= 0:
            raise ConfigError(f"--steps must be positive, got {a.steps}.")
        unknown = [k for k in a.only or [] if k not in TABLE_KEYS]
        if unknown:
            raise ConfigError(
                f"--only: unknown row {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(TABLE_KEYS)}."
            )
        rows = divergence_table(steps=a.steps, seed=a.seed, objectives=a.only)
        table = Table(
            title=f"P = N{DEFAULT_DATA} (data) vs Q = N{DEFAULT_MODEL} (model), (mean, sd); "
            f"MLP critic, {a.steps} steps, seed {a.seed}",
            title_justify="left",
            caption="\n".join(f"{r.key}: {r.objective}; {r.note}" for r in rows),
            caption_justify="left",
        )
        table.add_column("objective", no_wrap=True)
        table.add_column("divergence", no_wrap=True)
        for col in ("closed form", "trained critic", "abs diff"):
            table.add_column(col, justify="right")
        for r in rows:
            crit = "-" if r.critic is None else f"{r.critic:.4f}"
            diff = "-" if r.abs_diff is None else f"{r.abs_diff:.4f}"
            table.add_row(r.key, r.divergence, f"{r.closed_form:.4f}", crit, diff)
        Console().print(table)
    else:
        raise ConfigError("`ganforge theory` needs an action: gen-losses or divergences.")


COMMANDS: dict[str, Any] = {
    "train": _cmd_train,
    "resume": _cmd_resume,
    "sample": _cmd_sample,
    "zoo": _cmd_zoo,
    "recipes": _cmd_recipes,
    "data": _cmd_data,
    "theory": _cmd_theory,
    "eval": _cmd_eval,
    "compare": _cmd_compare,
    "features": _cmd_features,
    "translate": _cmd_translate,
    "upscale": _cmd_translate,
    "lab": _cmd_lab,
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help()
        return 0
    from ganforge.engine.run import set_threads_from_env

    set_threads_from_env()
    try:
        COMMANDS[a.command](a)
    except GanforgeError as e:
        if a.debug:
            raise
        kind = "stopped" if isinstance(e, TrainingInterrupted) else "error"
        print(f"ganforge {a.command}: {kind}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(
            f"ganforge {a.command}: interrupted. A run resumes with `ganforge resume RUN_DIR`.",
            file=sys.stderr,
        )
        return 130
    except Exception as e:  # a bug, or something we did not foresee: still no wall of text
        if a.debug:
            raise
        print(
            f"ganforge {a.command}: unexpected {type(e).__name__}: {e}\n"
            "Run again with --debug for the traceback, and please report it.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
