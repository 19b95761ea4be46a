"""The ``ganforge`` command.

Errors a user can cause print one paragraph (what is wrong, what to do) and exit
non-zero, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ganforge.errors import ConfigError, GanforgeError

EXAMPLES = """\
examples:
  ganforge train                                 the default recipe (gan-digits), offline, minutes on a CPU
  ganforge train dcgan-mnist --set train.steps=20000 --set optim.d.lr=4e-4
  ganforge train gan-ring8 --seed 3 --out runs/ring8-seed3
  ganforge resume runs/dcgan-mnist-0001           exact continuation after a crash
  ganforge sample runs/dcgan-mnist-0001 --n 64 --out grid.png
  ganforge zoo                                    every registered component with its paper
  ganforge data list
  ganforge data prepare mnist                     download + verify into $GANFORGE_DATA
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
        "--out", type=Path, default=Path("samples.png"), help="PNG grid (or scatter for 2-D)"
    )

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
    run_dir = train(
        a.recipe, overrides, seed=a.seed, out=a.out, runs_root=a.runs, progress=not a.no_progress
    )
    _done(run_dir)


def _done(run_dir: Path) -> None:
    from rich.console import Console

    Console().print(
        f"[green]done[/green]: {run_dir}  (samples in {run_dir / 'samples'}, "
        f"generator in {run_dir / 'generator.safetensors'})"
    )


def _cmd_resume(a: argparse.Namespace) -> None:
    from ganforge.engine.run import resume

    _done(resume(a.run_dir, a.steps, progress=not a.no_progress))


def _cmd_sample(a: argparse.Namespace) -> None:
    from ganforge.engine.run import load
    from ganforge.reports import save_image_grid, scatter_2d

    if a.n <= 0:
        raise ConfigError(f"--n must be positive, got {a.n}.")
    gen = load(a.run_dir)
    x = gen.sample(a.n, a.seed).float()
    if gen.kind == "images":
        save_image_grid(x, a.out)
    else:
        scatter_2d(x[:, :2], None, a.out, title=f"{a.n} samples")
    print(f"wrote {a.out}")


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
            console.print(
                f"  [bold cyan]{e.name:<{width}}[/bold cyan]  {escape(e.paper)}{tail}",
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
        print(f"ganforge {a.command}: error: {e}", file=sys.stderr)
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
