"""The runs page's data: run listing, run detail, comparison and safe file serving.

Strictly read-only: nothing here opens a file for writing, creates a folder or calls
code that does (``metrics.cards.compare_runs`` and ``load_cards`` only read).

A *run* is a folder with a ``config.yaml`` at most two levels below the runs root
(``root/NAME`` or ``root/GROUP/NAME``); its name is that relative path
(``gan-ring8-0001`` or ``sweep/gan-ring8-0001``).

File serving refuses (404) any path that is not a plain relative path of plain names
(``..``, ``.``, empty parts, absolute paths, backslashes, NUL, ``:``, ``%``) and any run
name that is not a listed run; it refuses (403) a real file whose kind is not served
and anything that resolves (through symlinks) outside the runs root. Encoded variants
(``%2e``, ``%2f``, ``%5c``, ``%00`` in the raw URL) are refused by the app before the
path is decoded.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import yaml
from starlette.exceptions import HTTPException

from ganforge.errors import GanforgeError

#: File kinds a run holds that the lab serves, with their media types. YAML and JSON
#: lines are sent as text so that a browser shows them instead of downloading them.
SERVED = {
    ".png": "image/png",
    ".json": "application/json",
    ".jsonl": "text/plain; charset=utf-8",
    ".yaml": "text/plain; charset=utf-8",
    ".yml": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
MAX_RUNS = 2000  # listed at most (the page is a table, not a file manager)
MAX_METRIC_RECORDS = 5000  # longer metrics.jsonl files are thinned evenly (last kept)
MAX_COMPARE = 32
MAX_TEXT = 8 * 1024 * 1024  # config.yaml / metrics.jsonl / cards read at most this much


def _clean(x: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if x is None or isinstance(x, str | int | bool):
        return x
    return str(x)  # dates and other YAML scalars


def safe_parts(path: str, what: str = "path") -> list[str]:
    """The parts of a plain relative path, or a 404 for anything else.

    Refused: empty, absolute (``/x``), ``..`` / ``.`` / empty parts, backslashes, NUL,
    ``:`` (drive letters, alternate streams) and ``%`` (a still-encoded name means the
    URL was encoded twice; no run file has one).
    """
    bad = not path or path.startswith("/") or any(c in path for c in ("\\", "\x00", ":", "%"))
    parts = path.split("/")
    if bad or any(p in ("", ".", "..") for p in parts):
        raise HTTPException(404, f"not found: {what} {path!r} is not a plain relative path.")
    return parts


class RunsRoot:
    """The run dirs under ``root`` (which may not exist yet: then there are none)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()

    @property
    def real_root(self) -> Path:
        return self.root.resolve()

    def _inside(self, path: Path) -> bool:
        """Does ``path`` (symlinks resolved) lie inside the runs root?"""
        try:
            return path.resolve().is_relative_to(self.real_root)
        except (OSError, RuntimeError):  # a symlink loop
            return False

    # -- listing -------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Run names (relative paths), sorted; symlinked folders leading out are skipped."""
        if not self.root.is_dir():
            return []
        found: list[str] = []

        def children(folder: Path) -> list[Path]:
            try:
                return sorted(
                    p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir()
                )
            except OSError:
                return []

        for first in children(self.root):
            if not self._inside(first):
                continue
            if (first / "config.yaml").is_file():
                found.append(first.name)
                continue
            for second in children(first):
                if self._inside(second) and (second / "config.yaml").is_file():
                    found.append(f"{first.name}/{second.name}")
            if len(found) >= MAX_RUNS:
                break
        return found[:MAX_RUNS]

    def run_dir(self, name: str) -> Path:
        """The folder of run ``name``, or a 404 (not a run, or a path trick)."""
        parts = safe_parts(name, "run")
        path = self.root.joinpath(*parts)
        if (
            len(parts) > 2
            or any(p.startswith(".") for p in parts)
            or not self._inside(path)
            or not (path / "config.yaml").is_file()
        ):
            raise HTTPException(404, f"not found: no run {name!r} under {self.root}.")
        return path

    def listing(self) -> dict[str, Any]:
        """``GET /api/runs``."""
        return {"root": str(self.root), "runs": [self.summary(n) for n in self.names()]}

    def summary(self, name: str) -> dict[str, Any]:
        path = self.run_dir(name)
        config = _read_yaml(path / "config.yaml")
        last = _last_record(path / "metrics.jsonl")
        steps = last.get("step") if last else None
        if steps is None:
            steps = _read_json(path / "generator.json").get("step", 0)
        cards = path / "cards"
        return {
            "name": name,
            "recipe": config.get("recipe"),
            "steps": steps,
            "created": _created(path),
            "has_samples": any((path / "samples").glob("*.png")),
            "n_cards": len(list(cards.glob("*.json"))) if cards.is_dir() else 0,
            "last": _clean({k: v for k, v in (last or {}).items() if k != "step"}),
        }

    # -- one run -------------------------------------------------------------------------
    def detail(self, name: str) -> dict[str, Any]:
        """``GET /api/runs/{name}``: config, metrics records, sample grids, cards, files."""
        path = self.run_dir(name)
        samples = sorted(
            (p for p in (path / "samples").glob("*.png") if self._inside(p)),
            # step-NNNNNNNN.png in step order, then final.png and any others by name
            key=lambda p: (not p.name.startswith("step-"), p.name),
        )
        return {
            "name": name,
            "config": _clean(_read_yaml(path / "config.yaml")),
            "metrics": _clean(_records(path / "metrics.jsonl")),
            "samples": [f"samples/{p.name}" for p in samples],
            "cards": _clean(_cards(path / "cards")),
            "files": sorted(
                p.name
                for p in path.iterdir()
                if p.suffix.lower() in SERVED and p.is_file() and self._inside(p)
            ),
        }

    def compare(self, names: list[str]) -> dict[str, Any]:
        """``GET /api/compare``: :func:`ganforge.metrics.cards.compare_runs` as JSON.

        Raises:
            HTTPException: 404 for an unknown run, 409 when the runs cannot be compared
                (no cards, or cards measured differently: the message says which).
        """
        from ganforge.metrics.cards import compare_runs

        if not names or len(names) > MAX_COMPARE:
            raise HTTPException(
                422, f"give 1 to {MAX_COMPARE} run names: /api/compare?runs=a,b (got {len(names)})."
            )
        dirs = [self.run_dir(n) for n in names]
        try:
            comp = compare_runs(dirs)
        except GanforgeError as e:
            raise HTTPException(409, str(e)) from None
        return _clean(
            {
                "columns": comp.columns,
                "lower_is_better": comp.lower_is_better,
                "rows": [
                    {
                        "group": label,
                        "n": count,
                        "values": {c: [m, s] for c, (m, s) in stats.items()},
                    }
                    for label, count, stats in comp.rows
                ],
            }
        )

    # -- files ---------------------------------------------------------------------------
    def split_file_path(self, rest: str) -> tuple[str, str]:
        """``NAME/files/PATH`` -> (NAME, PATH); NAME may hold one slash (``group/run``),
        so each ``/files/`` is tried until the part before it is a run."""
        start = 0
        while (i := rest.find("/files/", start)) >= 0:
            name, rel = rest[:i], rest[i + len("/files/") :]
            try:
                self.run_dir(name)
            except HTTPException:
                start = i + 1
                continue
            return name, rel
        raise HTTPException(404, "not found: use /runs/RUN/files/PATH with RUN a listed run.")

    def resolve_file(self, name: str, rel: str) -> tuple[Path, str]:
        """The real path and media type of file ``rel`` of run ``name``.

        Raises:
            HTTPException: 404 for a path trick, an unknown run or a missing file; 403 for
                a file of a kind not served or a symlink that leads out of the runs root.
        """
        run = self.run_dir(name)
        candidate = run.joinpath(*safe_parts(rel))
        if not (candidate.exists() or candidate.is_symlink()):
            raise HTTPException(404, f"not found: {rel!r} in run {name!r}.")
        if not self._inside(candidate):
            raise HTTPException(403, f"forbidden: {rel!r} leads outside the runs root.")
        real = candidate.resolve()
        if not real.is_file():
            raise HTTPException(404, f"not found: {rel!r} in run {name!r} is not a file.")
        kinds = {candidate.suffix.lower(), real.suffix.lower()}
        if not kinds <= set(SERVED):
            raise HTTPException(
                403,
                f"forbidden: the lab serves only {' '.join(sorted(SERVED))} files of a run, "
                f"not {rel!r}.",
            )
        return real, SERVED[real.suffix.lower()]


# -- reading ---------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return f.read(MAX_TEXT).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(path) or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _created(path: Path) -> str | None:
    """When the run started: env.json's ``started``, else config.yaml's modification time."""
    started = _read_json(path / "env.json").get("started")
    if isinstance(started, str):
        return started
    try:
        mtime = (path / "config.yaml").stat().st_mtime
    except OSError:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(mtime))


def _parse_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash, or not JSON
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _records(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl records, thinned evenly to MAX_METRIC_RECORDS (the last one kept)."""
    recs = _parse_lines(_read_text(path))
    if len(recs) > MAX_METRIC_RECORDS:
        stride = math.ceil(len(recs) / MAX_METRIC_RECORDS)
        recs = recs[::-1][::stride][::-1]
    return recs


def _last_record(path: Path) -> dict[str, Any] | None:
    """The last complete record of metrics.jsonl, reading only the file's tail."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    recs = _parse_lines(tail)
    return recs[-1] if recs else None


def _cards(folder: Path) -> list[dict[str, Any]]:
    """The run's evaluation cards (cards/*.json, oldest first); unreadable ones skipped."""
    from ganforge.metrics.cards import load_card

    if not folder.is_dir():
        return []
    cards = []
    for p in sorted(folder.glob("*.json")):
        try:
            cards.append(load_card(p).to_dict())
        except GanforgeError:
            continue
    return sorted(cards, key=lambda c: str(c.get("created", "")))
