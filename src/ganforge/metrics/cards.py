"""Evaluation cards: every score saved with how it was obtained.

The same checkpoint can score FID 10.2 in one pipeline and 14.0 in another (Inception
weights, resize, uint8 rounding, sample counts, matrix square root). A card records
everything that moves the number, so two scores are put side by side only when they
were measured the same way: :func:`differences` names the fields that differ and
``ganforge compare`` refuses to mix them.

A card is a JSON file::

    {"metric": "fid", "values": {"fid": 12.3}, "primary": "fid",
     "extractor": "inception-fid", "weights_sha256": "...",
     "preprocessing": {"resize": ..., "normalization": ..., "quantization": ...},
     "n_real": 10000, "n_fake": 10000,
     "reference": {"data": {"name": "mnist", "split": "test", ...}, "subset": ...},
     "fake": {"source": "runs/dcgan-mnist-0001", "step": 20000},
     "params": {...}, "seeds": {"fake": 0, "real": 0, "metric": 0},
     "versions": {"ganforge": ..., "torch": ..., "numpy": ..., "scipy": ...},
     "created": "2026-11-23T12:00:00"}
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.io import atomic_write_text

#: Fields that must agree for two scores to be comparable. Seeds, versions, the
#: generator and the date may differ: they are what a comparison varies or records.
COMPARABLE_FIELDS = (
    "metric",
    "extractor",
    "weights_sha256",
    "preprocessing",
    "n_real",
    "n_fake",
    "reference",
    "params",
)


def versions() -> dict[str, str]:
    """Versions of what computes a score (recorded, not compared)."""
    import numpy
    import scipy
    import torch

    import ganforge

    return {
        "ganforge": ganforge.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }


@dataclass
class Card:
    """One score and how it was obtained (see the module docstring)."""

    metric: str
    values: dict[str, Any]
    primary: str
    extractor: str | None
    weights_sha256: str | None
    preprocessing: dict[str, Any]
    n_real: int | None
    n_fake: int
    reference: dict[str, Any] | None
    fake: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=versions)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def value(self) -> float:
        """The headline number (``values[primary]``)."""
        return float(self.values[self.primary])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "card") -> Card:
        try:
            return cls(**d)
        except TypeError as e:
            raise GanforgeError(
                f"{source} is not an evaluation card ({e}); re-run `ganforge eval`."
            ) from None

    def key(self) -> str:
        """Short hash of the comparable fields: cards with equal keys are comparable."""
        blob = json.dumps({k: getattr(self, k) for k in COMPARABLE_FIELDS}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def filename(self) -> str:
        """``<metric>-<extractor>-<key>.json``: one file per way of measuring."""
        ext = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.extractor or "none")
        return f"{self.metric}-{ext}-{self.key()}.json"

    def save(self, folder: Path | str) -> Path:
        """Write into ``folder`` atomically (re-evaluating the same way replaces it)."""
        path = Path(folder) / self.filename()
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path


def load_card(path: Path | str) -> Card:
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise GanforgeError(f"cannot read evaluation card {path}: {e}.") from None
    return Card.from_dict(data, str(path))


def load_cards(folder: Path | str) -> list[Card]:
    """All cards in ``folder`` (a run's ``cards/``), oldest first.

    ``created`` has one-second resolution; cards written within the same second are
    ordered by their file's modification time (ns), so "the latest card" is well defined.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    dated = [(load_card(p), p.stat().st_mtime_ns) for p in paths]
    return [c for c, _ in sorted(dated, key=lambda cm: (cm[0].created, cm[1]))]


def differences(a: Card, b: Card) -> list[str]:
    """Comparable fields on which two cards differ, with both values (empty: comparable)."""
    out = []
    for k in COMPARABLE_FIELDS:
        va, vb = getattr(a, k), getattr(b, k)
        if va != vb:
            if isinstance(va, dict) and isinstance(vb, dict):
                sub = sorted(s for s in set(va) | set(vb) if va.get(s) != vb.get(s))
                out.extend(f"{k}.{s}: {va.get(s)!r} vs {vb.get(s)!r}" for s in sub)
            else:
                out.append(f"{k}: {va!r} vs {vb!r}")
    return out


# -- comparing runs ---------------------------------------------------------------------------
@dataclass
class Comparison:
    """A table across runs: ``rows`` of (group label, number of runs, {column: (mean, std)})."""

    columns: list[str]
    rows: list[tuple[str, int, dict[str, tuple[float, float]]]]
    lower_is_better: dict[str, bool]


def _run_group(run_dir: Path) -> str:
    """Runs that differ only by seed form one group: the recipe name + hash of the rest."""
    import yaml

    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return run_dir.name
    if not isinstance(cfg, dict):
        return run_dir.name
    cfg.pop("seed", None)
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
    return f"{cfg.get('recipe') or run_dir.name} [{digest[:6]}]"


def compare_runs(run_dirs: list[Path | str], metrics: list[str] | None = None) -> Comparison:
    """Compare the evaluation cards of runs: mean +- std across the seeds of each group.

    For each metric the latest card of each run is used; every run must have one and
    all must have been measured the same way (:func:`differences`), else a
    :class:`~ganforge.errors.GanforgeError` says which field differs between which runs.
    """
    import numpy as np

    from ganforge import registry

    registry.load_all()
    runs = [Path(r) for r in run_dirs]
    if not runs:
        raise GanforgeError("give at least one run dir to compare.")
    per_run: dict[Path, dict[str, Card]] = {}
    for r in runs:
        if not (r / "cards").is_dir():
            raise GanforgeError(
                f"{r} has no evaluation cards; run `ganforge eval {r} --metrics fid` first."
            )
        latest: dict[str, Card] = {}
        for c in load_cards(r / "cards"):
            latest[c.metric] = c  # sorted oldest first: the last one wins
        per_run[r] = latest
    names = metrics or sorted({m for cards in per_run.values() for m in cards})
    columns: list[str] = []
    lower: dict[str, bool] = {}
    values: dict[Path, dict[str, float]] = {r: {} for r in runs}
    for m in names:
        missing = [str(r) for r in runs if m not in per_run[r]]
        if missing:
            raise GanforgeError(
                f"no {m!r} card in {', '.join(missing)}; evaluate those runs with "
                f"`ganforge eval RUN --metrics {m}` (same settings as the others) first."
            )
        first = per_run[runs[0]][m]
        for r in runs[1:]:
            diff = differences(first, per_run[r][m])
            if diff:
                raise GanforgeError(
                    f"refusing to compare {m!r}: {runs[0]} and {r} were measured differently "
                    f"({'; '.join(diff)}). Re-evaluate them with the same settings."
                )
        cols = [k for k, v in first.values.items() if isinstance(v, (int, float))]
        cols = [first.primary] + [k for k in cols if k != first.primary and not k.endswith("_std")]
        entry = registry.METRICS.get(m) if m in registry.METRICS else None
        for col in cols:
            name = col if col == m or len(cols) == 1 else f"{m}.{col}"
            columns.append(name)
            lower[name] = bool(getattr(entry, "lower_is_better", True))
            for r in runs:
                values[r][name] = float(per_run[r][m].values.get(col, float("nan")))
    groups: dict[str, list[Path]] = {}
    for r in runs:
        groups.setdefault(_run_group(r), []).append(r)
    rows = []
    for label, members in groups.items():
        stats = {}
        for col in columns:
            v = np.array([values[r][col] for r in members], dtype=np.float64)
            stats[col] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
        rows.append((label, len(members), stats))
    return Comparison(columns, rows, lower)
