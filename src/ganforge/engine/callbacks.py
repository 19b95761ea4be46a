"""What happens around the loop: scalars, sample pictures, checkpoints, the progress bar.

Each is a small object with optional hooks ``on_step_end(trainer)``,
``on_log(trainer, scalars)`` and ``on_train_end(trainer)``; the trainer calls them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganforge.engine.checkpoint import checkpoint_path, save_checkpoint
from ganforge.engine.trainer import Trainer
from ganforge.io import atomic_write_text


class MetricsWriter:
    """Appends one JSON line per log to ``metrics.jsonl`` and mirrors it to TensorBoard."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir / "tb"))

    def on_log(self, trainer: Trainer, scalars: dict[str, float]) -> None:
        record = {"step": trainer.step, **scalars}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(k, v, trainer.step)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

    @staticmethod
    def truncate(run_dir: Path, step: int) -> None:
        """Drop records after ``step`` (a resumed run logs those steps again)."""
        path = run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        keep = []
        for line in path.read_text("utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if rec.get("step", 0) <= step:
                keep.append(line)
        atomic_write_text(path, "".join(ln + "\n" for ln in keep))


class SampleWriter:
    """Every ``every`` steps: a grid of images (or a 2-D scatter) from fixed noise."""

    def __init__(
        self,
        run_dir: Path,
        every: int,
        n: int,
        seed: int,
        kind: str,
        real: torch.Tensor | None = None,
        centers: torch.Tensor | None = None,
        tb: MetricsWriter | None = None,
    ) -> None:
        self.folder = run_dir / "samples"
        self.every, self.n, self.seed, self.kind = every, n, seed, kind
        self.real, self.centers, self.tb = real, centers, tb

    def write(self, trainer: Trainer, name: str) -> Path:
        from ganforge.reports import save_image_grid, scatter_2d

        # Class-conditional generators sample classes in equal blocks: with n // K images
        # per row the grid shows one class per row.
        k = int(getattr(trainer.algorithm, "num_classes", 0) or 0)
        nrow = max(1, self.n // k) if k and self.kind == "images" else None
        n = nrow * k if nrow is not None else self.n
        if hasattr(trainer.algorithm, "panel"):
            # Translation: one example per row, its columns input | output | target ...
            cols = trainer.panel(max(1, min(self.n, 64) // 8), self.seed)
            x, nrow = torch.stack([c.float().cpu() for c in cols], 1).flatten(0, 1), len(cols)
        else:
            x = trainer.sample(n, self.seed).float().cpu()
        path = self.folder / f"{name}.png"
        if self.kind == "images":
            save_image_grid(x, path, nrow=nrow)
            if self.tb is not None and self.tb.tb is not None:
                from ganforge.reports import make_grid

                self.tb.tb.add_image("samples", make_grid(x), trainer.step)
        else:
            scatter_2d(
                x[:, :2],
                self.real,
                path,
                centers=self.centers,
                title=f"step {trainer.step}",
            )
        return path

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self.write(trainer, f"step-{trainer.step:08d}")


class Checkpointer:
    """Every ``every`` steps (and at the end) the full state, atomically, keep-last-N."""

    def __init__(self, run_dir: Path, every: int, keep_last: int, extra: dict[str, Any]) -> None:
        self.folder = run_dir / "checkpoints"
        self.every, self.keep_last, self.extra = every, keep_last, extra
        self.last_step = -1

    def save(self, trainer: Trainer) -> Path:
        # The guard reads every loss and weight first: a NaN is never checkpointed.
        trainer.check_finite(weights=True)
        # data parallel: every rank holds rank 0's weights, or none of them saves
        trainer.dist.check_consistent(trainer.algorithm.nets)
        self.last_step = trainer.step
        path = checkpoint_path(self.folder, trainer.step)
        if trainer.dist.is_main:  # the other ranks' state is the same (RNG included)
            state = trainer.state_dict()
            state.update(self.extra)
            save_checkpoint(self.folder, trainer.step, state, self.keep_last)
        return path

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self.save(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.last_step != trainer.step:
            self.save(trainer)


class ProgressBar:
    """A rich progress bar with the latest losses."""

    def __init__(self, total: int, start: int, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            transient=False,
        )
        self.task = self.progress.add_task(description, total=total, completed=start, losses="")
        self.progress.start()

    def on_step_end(self, trainer: Trainer) -> None:
        self.progress.update(self.task, completed=trainer.step)

    def on_log(self, trainer: Trainer, scalars: dict[str, float]) -> None:
        losses = "  ".join(f"{k[5:]} {v:.3f}" for k, v in scalars.items() if k.startswith("loss/"))
        self.progress.update(self.task, losses=losses)

    def close(self) -> None:
        self.progress.stop()


class Evaluator:
    """Every ``cfg.every`` steps: metrics on the sampling (EMA) generator, logged, best kept.

    The reference features are computed once (and cached across runs); sampling uses
    its own seeded generators, so evaluating never changes the training trajectory.
    """

    def __init__(
        self,
        run_dir: Path,
        cfg: Any,
        data: dict[str, Any],
        kind: str,
        device: str,
        writer: MetricsWriter | None,
        extra: dict[str, Any],
        dataset: Any = None,
    ) -> None:
        from ganforge import registry
        from ganforge.metrics.evaluate import reference_source

        self.run_dir, self.cfg, self.kind, self.device = run_dir, cfg, kind, device
        self.writer, self.extra = writer, extra
        has_split = "split" in registry.DATASETS.parameters(data["name"])
        spec = registry.DATASETS.validate(data, "data")
        if dataset is not None and (not has_split or spec.get("split") == cfg.ref):
            # the reference is the training data itself: reuse it, do not load it twice
            from ganforge.metrics.evaluate import DatasetSource

            self.real = DatasetSource(dataset, spec)
        else:
            self.real = reference_source(data, cfg.ref if has_split else None)
        self.best_path = run_dir / "checkpoints" / "best.json"
        self.best: dict[str, dict[str, Any]] = {}
        if self.best_path.is_file():
            try:
                self.best = json.loads(self.best_path.read_text("utf-8"))
            except json.JSONDecodeError:
                self.best = {}

    def evaluate(self, trainer: Trainer) -> list[Any]:
        from ganforge.metrics.evaluate import GeneratorSource, evaluate

        info = {"source": str(self.run_dir), "step": trainer.step, "ema": trainer.ema is not None}
        fake = GeneratorSource(trainer.sample, self.kind, info)
        cards = evaluate(
            fake,
            self.real,
            self.cfg.metrics,
            n=self.cfg.n,
            seed=self.cfg.seed,
            extractor=self.cfg.extractor,
            inception_weights=self.cfg.inception_weights,
            device=self.device,
            progress=False,
            shard=trainer.dist.shard,
        )
        if not trainer.dist.is_main:
            return cards  # (empty) rank 0 scores, logs and keeps the best
        scalars = {}
        for c in cards:
            for k, v in c.values.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    scalars[f"eval/{c.metric}" if k == c.primary else f"eval/{c.metric}.{k}"] = v
        assert self.writer is not None  # rank 0 has one
        self.writer.on_log(trainer, scalars)
        lines = "".join(json.dumps(c.to_dict(), sort_keys=True) + "\n" for c in cards)
        log = self.run_dir / "cards" / "training.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as f:
            f.write(lines)
        if self.cfg.keep_best:
            self._keep_best(trainer, cards)
        return cards

    def _keep_best(self, trainer: Trainer, cards: list[Any]) -> None:
        from ganforge import registry
        from ganforge.engine.checkpoint import encode
        from ganforge.io import atomic_write_bytes

        state = None
        for c in cards:
            lower = registry.METRICS.get(c.metric).lower_is_better
            old = self.best.get(c.metric)
            v = c.value
            if v != v:  # NaN never wins
                continue
            if old is not None and not (v < old["value"] if lower else v > old["value"]):
                continue
            if state is None:
                trainer.check_finite(weights=True, collective=False)  # rank 0 only
                state = encode({**trainer.state_dict(), **self.extra})
            path = self.run_dir / "checkpoints" / f"best-{c.metric}.safetensors"
            atomic_write_bytes(path, state)
            self.best[c.metric] = {"value": v, "step": trainer.step, "file": path.name}
        if state is not None:
            atomic_write_text(self.best_path, json.dumps(self.best, indent=2) + "\n")

    def on_step_end(self, trainer: Trainer) -> None:
        if self.cfg.every and trainer.step % self.cfg.every == 0:
            self.evaluate(trainer)
