"""Plots for runs: 2-D toy scatter plots and loss curves, saved as PNG.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas
directly, never through ``pyplot``: pyplot keeps global state (a list of open
figures, a current backend) that leaks memory in long runs and breaks in threads
and headless servers. matplotlib is imported inside the functions so that importing
``ganforge.reports`` stays cheap for code that only saves image grids.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ArrayLike = torch.Tensor | np.ndarray | Sequence[Sequence[float]]

#: Keys of metrics records that are not curves.
NON_CURVE_KEYS = frozenset({"step", "time", "wall", "wall_time", "epoch", "tick"})


def _points(x: ArrayLike, name: str) -> np.ndarray:
    """Tensor / array / list of (N, 2) points -> float64 numpy (N, 2)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be 2-D points of shape (N, 2), got {arr.shape}")
    return arr


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas; no global backend involved
    return fig


def _save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    return atomic_write(path, lambda f: fig.savefig(f, format="png"))


def _limits(lim: float | tuple[float, float] | None, data: np.ndarray) -> tuple[float, float]:
    """Axis limits: symmetric ``(-lim, lim)``, an explicit pair, or fitted to the data."""
    if lim is None:
        finite = data[np.isfinite(data).all(axis=1)]
        if len(finite) == 0:
            return -1.0, 1.0
        # one square box around everything, with a margin, so the aspect stays equal
        lo, hi = float(finite.min()), float(finite.max())
        margin = 0.05 * (hi - lo) or 1.0
        return lo - margin, hi + margin
    if isinstance(lim, (int, float)):
        return -abs(float(lim)), abs(float(lim))
    lo, hi = lim
    return float(lo), float(hi)


def scatter_2d(
    fake: ArrayLike,
    real: ArrayLike | None,
    path: str | os.PathLike[str],
    centers: ArrayLike | None = None,
    title: str = "",
    lim: float | tuple[float, float] | None = None,
    size: float = 5.0,
) -> Path:
    """Scatter plot of generated vs real 2-D points (toy mixtures such as ring8, grid25).

    Args:
        fake: generated points (N, 2), drawn in colour on top.
        real: real points (M, 2) in light grey underneath, or None.
        path: the PNG to write (atomically).
        centers: mode centres (K, 2), drawn as thin black crosses under the samples
            (e.g. ``dataset.info["centers"]``).
        title: figure title (recipe, step, ...).
        lim: axis limits for both axes, ``L`` for ``(-L, L)`` or a pair ``(lo, hi)``;
            None fits all the points. Fix it across steps so frames are comparable.
        size: figure side in inches (100 dpi).

    Returns:
        ``path`` as a :class:`Path`.
    """
    fake_np = _points(fake, "fake")
    parts = [fake_np]
    fig = _new_figure(size, size)
    ax = fig.add_subplot(1, 1, 1)
    if real is not None:
        real_np = _points(real, "real")
        parts.append(real_np)
        ax.scatter(
            real_np[:, 0], real_np[:, 1], s=4, c="#c8c8c8", alpha=0.6, linewidths=0, label="real"
        )
    if centers is not None:
        # thin crosses under the samples: a sample sitting on its mode must stay visible
        centers_np = _points(centers, "centers")
        parts.append(centers_np)
        ax.scatter(
            centers_np[:, 0],
            centers_np[:, 1],
            s=40,
            c="black",
            marker="+",
            linewidths=0.7,
            zorder=1,
            label="mode centres",
        )
    ax.scatter(
        fake_np[:, 0],
        fake_np[:, 1],
        s=4,
        c="#1f77b4",
        alpha=0.7,
        linewidths=0,
        zorder=2,
        label="generated",
    )
    lo, hi = _limits(lim, np.concatenate(parts))
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    # below the axes, so that it never hides a mode (grid25's corner one)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, fontsize=8, markerscale=2)
    fig.tight_layout()
    return _save_figure(fig, path)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file, one JSON object per line.

    A malformed *last* line is skipped: it is what a run killed mid-write leaves
    behind, and the curves up to it are still worth plotting. A malformed line
    elsewhere is an error.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    records: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}, line {i + 1}: not valid JSON ({e.msg})") from e
        if isinstance(record, dict):
            records.append(record)
    return records


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _curves(
    records: Iterable[Mapping[str, Any]], keys: Sequence[str] | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{key: (steps, values)} for each scalar key, skipping records without it."""
    steps: dict[str, list[float]] = {}
    values: dict[str, list[float]] = {}
    for record in records:
        step = record.get("step")
        if not _is_scalar(step):
            continue
        for key, v in record.items():
            if key in NON_CURVE_KEYS or not _is_scalar(v):
                continue
            if keys is not None and key not in keys:
                continue
            steps.setdefault(key, []).append(float(step))
            values.setdefault(key, []).append(float(v))
    order = list(keys) if keys is not None else sorted(steps)
    return {k: (np.asarray(steps[k]), np.asarray(values[k])) for k in order if k in steps}


def loss_curves(
    metrics: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    keys: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Plot each scalar of a run's metrics against ``step``.

    Keys sharing a prefix before ``/`` ("loss/d", "loss/g") share a panel, so the two
    players' losses are read together; other keys get one panel per prefix. Non-finite
    values (a diverged loss) are left out of the line rather than breaking the scale.

    Args:
        metrics: path to a ``metrics.jsonl`` or a list of records such as
            ``{"step": 100, "loss/d": 1.2, "loss/g": 0.7}``.
        path: the PNG to write (atomically).
        keys: the keys to plot (default: every numeric key except step/time).
        title: figure title.

    Returns:
        ``path`` as a :class:`Path`.
    """
    records = read_jsonl(metrics) if isinstance(metrics, (str, os.PathLike)) else list(metrics)
    curves = _curves(records, keys)
    groups: dict[str, list[str]] = {}
    # the losses panel first: it is what one looks at to see if a GAN is training
    for key in sorted(curves, key=lambda k: not k.startswith("loss")):
        groups.setdefault(key.split("/", 1)[0], []).append(key)

    n = max(1, len(groups))
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig = _new_figure(5.0 * ncols, 3.2 * nrows)
    if not groups:
        ax = fig.add_subplot(1, 1, 1)
        wanted = f" among {list(keys)}" if keys is not None else ""
        ax.text(0.5, 0.5, f"no scalar metrics{wanted} yet", ha="center", va="center")
        ax.set_axis_off()
    for i, (group, members) in enumerate(groups.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for key in members:
            x, y = curves[key]
            ok = np.isfinite(y)
            ax.plot(x[ok], y[ok], linewidth=1.2, label=key)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def comparison_bars(
    columns: Sequence[str],
    rows: Sequence[tuple[str, int, Mapping[str, tuple[float, float]]]],
    path: str | os.PathLike[str],
) -> Path:
    """One panel per metric: a bar per group of runs, error bars = std across seeds.

    Args:
        columns: metric column names (``Comparison.columns``).
        rows: (group label, number of runs, {column: (mean, std)}) (``Comparison.rows``).
        path: PNG to write (atomically).
    """
    if not columns or not rows:
        raise ValueError("nothing to plot: no metrics or no runs")
    k = len(columns)
    fig = _new_figure(min(4.0 * k, 16.0), 3.2 + 0.15 * len(rows))
    labels = [f"{label} (n={n})" for label, n, _ in rows]
    for i, col in enumerate(columns):
        ax = fig.add_subplot(1, k, i + 1)
        means = [stats[col][0] for _, _, stats in rows]
        stds = [stats[col][1] for _, _, stats in rows]
        ax.barh(range(len(rows)), means, xerr=stds, color="#4c72b0", capsize=3)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels if i == 0 else [""] * len(rows), fontsize=8)
        ax.set_title(col, fontsize=10)
        ax.invert_yaxis()
    fig.tight_layout()
    return _save_figure(fig, path)
