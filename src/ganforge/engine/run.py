"""From a validated config to a finished run dir: build, train, checkpoint, export, resume.

The order is chosen so that bad input costs nothing: the config is validated, the
data read and the networks built *before* the run dir is created, so a typo or a
corrupt dataset never leaves a half-made run behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

import ganforge
from ganforge import registry
from ganforge.algorithms.base import Algorithm
from ganforge.config import RunConfig, load_config, save_config
from ganforge.data.base import InfiniteSampler, TensorDataset
from ganforge.engine.callbacks import (
    Checkpointer,
    Evaluator,
    MetricsWriter,
    ProgressBar,
    SampleWriter,
)
from ganforge.engine.checkpoint import DISK_FULL, latest_checkpoint, load_checkpoint
from ganforge.engine.distributed import Distributed
from ganforge.engine.trainer import Trainer, seed_everything
from ganforge.errors import (
    CheckpointError,
    ConfigError,
    DiskFullError,
    GanforgeError,
    TrainingInterrupted,
)
from ganforge.io import RunLock, atomic_write_bytes, atomic_write_text, remove_stale_temps
from ganforge.nn.conditional import balanced_labels, draw_codes, uniform_noise, with_codes
from ganforge.nn.parallel import convert_sync_batchnorm


@dataclass
class Built:
    """Everything a run needs, built from a config."""

    config: RunConfig
    dataset: TensorDataset
    algorithm: Algorithm
    optimizers: dict[str, torch.optim.Optimizer]
    sampler: InfiniteSampler
    device: torch.device
    dist: Distributed


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"train.device: {name!r} is not a device (use auto, cpu, cuda, cuda:1)."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device is cuda but no CUDA GPU is available; use train.device=auto."
        )
    return dev


def build_nets(
    cfg: RunConfig, dataset: TensorDataset
) -> tuple[dict[str, torch.nn.Module], RunConfig]:
    """Build the networks, filling the arguments the recipe left to the data
    (``in_shape``, ``out_shape``, ``latent_dim``); return them and the filled config."""
    algo_cls = registry.ALGORITHMS.get(cfg.algorithm["name"])
    defaults = algo_cls.net_defaults(cfg.algorithm, dataset)
    nets, specs = {}, {}
    # Built in sorted order, so the initial weights depend on the seed and not on the
    # order of the recipe's keys (a saved config.yaml has sorted keys: training it again
    # must give the same run).
    for key, spec in sorted(cfg.nets.items()):
        accepted = registry.NETS.parameters(spec["name"])
        filled = dict(spec)
        for arg, value in defaults.get(key, {}).items():
            if arg in accepted and filled.get(arg) is None:
                filled[arg] = value
        specs[key] = registry.NETS.validate(filled, f"nets.{key}")
        try:
            nets[key] = registry.NETS.build(specs[key], f"nets.{key}")
        except ValueError as e:  # a network rejecting its arguments (e.g. resolution)
            raise ConfigError(f"nets.{key} ({spec['name']}): {e}") from None
    nets = {k: nets[k] for k in cfg.nets}
    specs = {k: specs[k] for k in cfg.nets}
    return nets, cfg.model_copy(update={"nets": specs})


def build(cfg: RunConfig, dist: Distributed | None = None) -> Built:
    """Dataset, networks, algorithm, optimizers and sampler for ``cfg`` (seeded).

    ``dist``: the data-parallel group (every rank builds the same, seeded alike); the
    sampler draws global batches of ``train.batch_size`` that the trainer shards.
    """
    dist = dist or Distributed()
    device = dist.device(resolve_device(cfg.train.device))
    local_batch = dist.check_batch_size(cfg.train.batch_size)
    seed_everything(cfg.seed)
    dataset = registry.DATASETS.build(cfg.data, "data")
    if len(dataset) < cfg.train.batch_size:
        raise ConfigError(
            f"train.batch_size is {cfg.train.batch_size} but dataset {cfg.data['name']!r} "
            f"has only {len(dataset)} samples."
        )
    dataset.to(device)
    nets, cfg = build_nets(cfg, dataset)
    nets = {k: v.to(device) for k, v in nets.items()}
    if cfg.train.sync_bn and dist.world > 1:
        nets = {k: convert_sync_batchnorm(v) for k, v in nets.items()}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: autotune once per layer
    if cfg.train.channels_last:
        nets = {k: v.to(memory_format=torch.channels_last) for k, v in nets.items()}
    objective = registry.OBJECTIVES.build(cfg.objective, "objective")
    penalties = [
        registry.PENALTIES.build(p, f"penalties[{i}]") for i, p in enumerate(cfg.penalties)
    ]
    techniques = []
    for i, t in enumerate(cfg.techniques):
        try:
            techniques.append(registry.TECHNIQUES.build(t, f"techniques[{i}]"))
        except ValueError as e:  # a technique rejecting its arguments (e.g. a policy name)
            raise ConfigError(f"techniques[{i}] ({t['name']}): {e}") from None
    for t in techniques:
        check = getattr(t, "check_data", None)
        if check is not None:
            check(dataset)
    algorithm = registry.ALGORITHMS.build(
        cfg.algorithm,
        "algorithm",
        nets=nets,
        objective=objective,
        penalties=penalties,
        techniques=techniques,
    )
    algorithm.check_batch_size(local_batch)
    if cfg.train.compile:
        if penalties:  # (an objective's implied penalties are in the list too)
            raise ConfigError(
                "train.compile: torch.compile cannot differentiate twice, which gradient "
                "penalties need. Drop train.compile for this recipe."
            )
        from torch.nn.utils import parametrize

        sn = [
            k for k, v in nets.items() if any(parametrize.is_parametrized(m) for m in v.modules())
        ]
        if sn:
            raise ConfigError(
                f"train.compile: network(s) {', '.join(sn)} use spectral normalisation, whose "
                "power-iteration buffers torch.compile updates in place between the passes "
                "of one step (a backward error, pytorch#66363). Drop train.compile, or "
                "spectral_norm on those networks."
            )
        for net in nets.values():
            net.compile()  # in place: state_dict keys stay those of the plain module
    algorithm.attach_data(dataset)
    optimizers = {}
    for key, spec in cfg.optim.items():
        params = [p for n in algorithm.optimizers[key] for p in nets[n].parameters()]
        optimizers[key] = registry.OPTIMIZERS.build(spec, f"optim.{key}", params=params)
    for i, m in enumerate(cfg.train.eval.metrics):
        registry.METRICS.validate({"name": m}, f"train.eval.metrics[{i}]")
    if cfg.train.eval.extractor is not None:
        from ganforge.metrics.features import parse_spec

        registry.FEATURES.validate(parse_spec(cfg.train.eval.extractor), "train.eval.extractor")
    sampler = InfiniteSampler(
        len(dataset), cfg.train.batch_size, seed=cfg.seed, device=dataset.tensors["real"].device
    )
    return Built(cfg, dataset, algorithm, optimizers, sampler, device, dist)


# -- run dirs -------------------------------------------------------------------------------
def new_run_dir(root: Path, name: str) -> Path:
    """``root/<name>-0001`` with the next free number (created, race-free)."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [p.name[len(name) + 1 :] for p in root.glob(f"{name}-*")]
    n = max([int(t) for t in taken if t.isdigit()], default=0) + 1
    while True:
        path = root / f"{name}-{n:04d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def _git_hash() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(cfg: RunConfig, device: torch.device) -> dict[str, Any]:
    import numpy

    return {
        "ganforge": ganforge.__version__,
        "git": _git_hash(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "seed": cfg.seed,
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# -- the run ------------------------------------------------------------------------------
def _make_trainer(
    built: Built, run_dir: Path, progress: bool, extra_callbacks: list[Any]
) -> tuple[Trainer, list[Any]]:
    cfg = built.config
    t = cfg.train
    if not built.dist.is_main:
        # Other ranks write nothing: their checkpointer only joins the pre-save check
        # that every rank holds the same weights, their evaluator extracts its share.
        ranks: list[Any] = [Checkpointer(run_dir, t.ckpt_every, t.keep_last, {})]
        if t.eval.every:
            ranks.append(_evaluator(built, run_dir, None))
        trainer = _trainer(built, [*ranks, *extra_callbacks])
        return trainer, trainer.callbacks
    if t.precision != "fp32" and built.device.type != "cuda":
        print(
            f"ganforge: train.precision={t.precision} is a CUDA autocast setting; "
            f"training in fp32 on {built.device}.",
            file=sys.stderr,
        )
    metrics = MetricsWriter(run_dir, tensorboard=t.tensorboard)
    real = centers = None
    if built.dataset.kind == "points":
        real = built.dataset.tensors["real"][:2500].float().cpu()
        centers = built.dataset.info.get("centers")
    samples = SampleWriter(
        run_dir,
        t.sample_every,
        t.n_samples,
        t.sample_seed,
        built.dataset.kind,
        real,
        centers,
        metrics,
    )
    ckpt = Checkpointer(run_dir, t.ckpt_every, t.keep_last, {"config": cfg.to_dict()})
    callbacks: list[Any] = [metrics, samples, ckpt]
    if t.eval.every:
        callbacks.append(_evaluator(built, run_dir, metrics))
    callbacks.extend(extra_callbacks)
    trainer = _trainer(built, callbacks)
    if progress:
        trainer.callbacks.append(ProgressBar(t.steps, trainer.step, cfg.recipe or "train"))
    return trainer, callbacks


def _evaluator(built: Built, run_dir: Path, metrics: MetricsWriter | None) -> Evaluator:
    cfg = built.config
    return Evaluator(
        run_dir,
        cfg.train.eval,
        cfg.data,
        built.dataset.kind,
        str(built.device),
        metrics,
        {"config": cfg.to_dict()},
        built.dataset,
    )


def _trainer(built: Built, callbacks: list[Any]) -> Trainer:
    t = built.config.train
    return Trainer(
        built.algorithm,
        built.optimizers,
        built.dataset,
        built.sampler,
        ema_decay=t.ema,
        ema_start=t.ema_start,
        grad_clip=t.grad_clip,
        precision=t.precision,
        log_every=t.log_every,
        lr_schedule=t.lr_schedule,
        lr_decay_start=t.lr_decay_start,
        total_steps=t.steps,
        callbacks=callbacks,
        dist=built.dist,
        channels_last=t.channels_last,
    )


class StopOnSignal:
    """SIGINT / SIGTERM while training: finish the current step, checkpoint it, stop.

    The handler only asks the trainer to stop, so a signal never tears a step or a
    write; the trainer's end hooks then write the checkpoint of the last complete step.
    A second SIGINT while that happens raises KeyboardInterrupt at once (atomic writes
    leave the previous checkpoint intact). Handlers can only be set from the main
    thread; elsewhere (a lab session, a notebook's worker) this is a no-op.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        self.trainer.request_stop()

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def _fit(trainer: Trainer, built: Built, run_dir: Path) -> Path:
    stopper = StopOnSignal(trainer)
    try:
        with stopper:
            trainer.run(built.config.train.steps)
    except OSError as e:
        if e.errno in DISK_FULL:
            raise DiskFullError(
                f"No space left to write {e.filename or 'into ' + str(run_dir)} "
                f"({os.strerror(e.errno or 0)}). The last checkpoint is intact: free space, "
                f"then continue with `ganforge resume {run_dir}`."
            ) from None
        raise
    finally:
        for cb in trainer.callbacks:
            close = getattr(cb, "close", None)
            if close is not None:
                close()
    if not built.dist.is_main:
        return run_dir
    if stopper.signum is not None:
        name = signal.Signals(stopper.signum).name
        raise TrainingInterrupted(
            f"{name} stopped training at step {trainer.step} of "
            f"{built.config.train.steps}; its checkpoint is written. Continue with "
            f"`ganforge resume {run_dir}`.",
            stopper.signum,
        )
    samples = next(cb for cb in trainer.callbacks if isinstance(cb, SampleWriter))
    samples.write(trainer, "final")
    if (run_dir / "metrics.jsonl").is_file():
        from ganforge.reports import loss_curves

        loss_curves(
            run_dir / "metrics.jsonl", run_dir / "losses.png", title=built.config.recipe or ""
        )
    export_generator(trainer, built, run_dir)
    return run_dir


def train(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    seed: int | None = None,
    out: Path | str | None = None,
    runs_root: Path | str = "runs",
    progress: bool = True,
    callbacks: list[Any] | tuple[Any, ...] = (),
) -> Path:
    """Train a recipe; return the run dir.

    Args:
        config: a recipe name, a YAML path, a dict or a RunConfig (None: the default recipe).
        overrides: ``"a.b=c"`` strings, as ``--set`` on the command line.
        seed: overrides the recipe's seed.
        out: the run dir (must not exist or be empty); default ``runs_root/<recipe>-NNNN``.
        callbacks: extra trainer callbacks (``on_step_end``, ``on_log``, ``on_train_end``).
    """
    if isinstance(config, RunConfig):
        config = config.to_dict()
    cfg = load_config(config, overrides, seed)
    dist = Distributed.from_env(resolve_device(cfg.train.device))
    try:
        built = build(cfg, dist)  # may fail on data or networks: before any run dir exists
        run_dir = Path(dist.agree(lambda: str(_new_out(cfg, out, runs_root))))
        with RunLock(run_dir) if dist.is_main else contextlib.nullcontext():
            if dist.is_main:
                save_config(built.config, run_dir / "config.yaml")
                env = environment(cfg, built.device)
                atomic_write_text(run_dir / "env.json", json.dumps(env, indent=2))
            trainer, _ = _make_trainer(built, run_dir, progress, list(callbacks))
            return dist.finish(_fit(trainer, built, run_dir))
    finally:
        dist.close()


def _new_out(cfg: RunConfig, out: Path | str | None, runs_root: Path | str) -> Path:
    """The run dir of a new run: ``out`` (must not exist or be empty) or the next free
    ``runs_root/<recipe>-NNNN``; created."""
    if out is None:
        return new_run_dir(Path(runs_root), cfg.recipe or "run")
    run_dir = Path(out)
    if run_dir.exists() and any(run_dir.iterdir()):
        hint = " (it is a run: use `ganforge resume`)" if (run_dir / "config.yaml").exists() else ""
        raise ConfigError(
            f"Output dir {run_dir} exists and is not empty{hint}. Choose another --out."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def resume(
    run_dir: Path | str,
    steps: int | None = None,
    *,
    progress: bool = True,
    callbacks: list[Any] | tuple[Any, ...] = (),
) -> Path:
    """Continue a run from its latest complete checkpoint, exactly.

    ``steps`` sets a new total number of steps (default: the run's own ``train.steps``).
    Training N more steps after a resume gives bitwise the same weights on CPU as
    training without the interruption.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(f"{run_dir} is not a ganforge run dir (no config.yaml).")
    device = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))
    device = (device or {}).get("train", {}).get("device", "auto")
    dist = Distributed.from_env(resolve_device(str(device)))
    try:
        # the lock before touching temps: they may be a live trainer's
        with RunLock(run_dir) if dist.is_main else contextlib.nullcontext():
            return dist.finish(_resume_locked(run_dir, steps, progress, list(callbacks), dist))
    finally:
        dist.close()


def _resume_locked(
    run_dir: Path, steps: int | None, progress: bool, callbacks: list[Any], dist: Distributed
) -> Path:
    folder = run_dir / "checkpoints"

    def pick() -> str:  # rank 0 chooses; every rank loads the same file
        remove_stale_temps(folder)  # leftovers of a write interrupted by a crash
        return latest_checkpoint(folder).name

    state = load_checkpoint(folder / dist.agree(pick))
    cfg = load_config(state["config"])
    if steps is not None:
        if steps < int(state["step"]):
            raise ConfigError(f"--steps {steps} is below the checkpoint's step {state['step']}.")
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": steps})})
    built = build(cfg, dist)
    trainer, _ = _make_trainer(built, run_dir, progress, callbacks)
    trainer.load_state_dict(state)
    if dist.is_main:
        MetricsWriter.truncate(run_dir, trainer.step)
        if steps is not None:
            save_config(built.config, run_dir / "config.yaml")
    return _fit(trainer, built, run_dir)


# -- exported generators --------------------------------------------------------------------
def export_generator(trainer: Trainer, built: Built, run_dir: Path) -> None:
    """``generator.safetensors`` (EMA weights where kept) + ``generator.json``: enough to
    sample without the recipe."""
    import safetensors.torch

    algo = built.algorithm
    gen_key = next(k for k, role in algo.networks.items() if role == "generator")
    net = trainer.sampling_nets()[gen_key]
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(run_dir / "generator.safetensors", safetensors.torch.save(tensors))
    meta = {
        "format": 1,
        "ganforge": ganforge.__version__,
        "net": built.config.to_dict()["nets"][gen_key],
        "sampling": algo.export_spec(),
        "data": {
            "name": built.config.data["name"],
            "kind": built.dataset.kind,
            "shape": list(built.dataset.shape),
            "range": [-1.0, 1.0] if built.dataset.kind == "images" else None,
        },
        "ema": trainer.ema is not None,
        "step": trainer.step,
        "recipe": built.config.recipe,
    }
    atomic_write_text(run_dir / "generator.json", json.dumps(meta, indent=2))


class Generator:
    """An exported generator: ``sample(n, seed)`` without the recipe or the trainer."""

    def __init__(self, net: torch.nn.Module, meta: dict[str, Any]) -> None:
        self.net, self.meta = net.eval(), meta
        if self.translates:  # an image-to-image generator: no latent
            self.latent_dim = 0
            return
        latent = meta["sampling"]["latent"]
        if latent.get("distribution") not in ("normal", "uniform"):
            raise CheckpointError(f"unsupported latent distribution {latent.get('distribution')!r}")
        self.latent_dim = int(latent["dim"])
        self.latent_distribution = latent["distribution"]

    def _noise(self, shape: tuple[int, ...], g: torch.Generator, device: Any) -> torch.Tensor:
        """z of ``shape`` from the training distribution: N(0, I) or U(-1, 1) (InfoGAN)."""
        if self.latent_distribution == "uniform":
            return uniform_noise(shape, device, g)
        return torch.randn(shape, generator=g, device=device)

    @property
    def translates(self) -> bool:
        """True for image-to-image generators (pix2pix, CycleGAN, SRGAN, ...)."""
        return "translate" in self.meta["sampling"]

    @property
    def translation(self) -> dict[str, Any]:
        """What a translator takes and returns: ``in_shape``, ``out_shape`` (C, H, W) of
        training, ``domains`` (StarGAN: target domains, 0 = none)."""
        return dict(self.meta["sampling"].get("translate", {}))

    @torch.no_grad()
    def translate(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 64
    ) -> torch.Tensor:
        """Translate images x (N, C, H, W) in [-1, 1]: (N, C', H', W') in [-1, 1] (SegAN's
        masks, probabilities p in training, come out as 2p - 1).

        ``labels`` (N,) int64 are the target domains of a multi-domain translator
        (StarGAN), required there and refused elsewhere.
        """
        if not self.translates:
            raise ConfigError(
                "this generator maps noise to samples: use sample(), not translate()."
            )
        spec = self.translation
        want = int(spec.get("in_shape", [x.shape[1]])[0])
        if x.dim() != 4 or x.shape[1] != want:
            raise ConfigError(
                f"this translator takes images with {want} channel(s) (N, {want}, H, W); got "
                f"{tuple(x.shape)}."
            )
        domains = int(spec.get("domains", 0))
        if domains and labels is None:
            raise ConfigError(f"this translator needs target domains (0..{domains - 1}).")
        if not domains and labels is not None:
            raise ConfigError("this translator has no target domains: drop the labels.")
        device = next(self.net.parameters()).device
        out = []
        for i in range(0, len(x), batch_size):
            xi = x[i : i + batch_size].to(device)
            args = (xi,) if labels is None else (xi, labels[i : i + batch_size].to(device))
            out.append(self.net(*args).cpu())
        y = torch.cat(out)
        lo, hi = spec.get("output_range", [-1.0, 1.0])
        # A net with another output range (SegAN's mask probabilities in [0, 1]) is mapped
        # to the [-1, 1] of every image: 2 (y - lo) / (hi - lo) - 1.
        return y if (lo, hi) == (-1.0, 1.0) else (y - lo) * (2.0 / (hi - lo)) - 1.0

    @property
    def kind(self) -> str:
        return self.meta["data"]["kind"]

    @property
    def num_classes(self) -> int:
        """Classes of a conditional generator (0: unconditional)."""
        return int(self.meta["sampling"].get("labels", {}).get("num_classes", 0))

    @property
    def codes(self) -> tuple[int, int]:
        """InfoGAN codes (categorical classes K, continuous codes C); (0, 0) without."""
        c = self.meta["sampling"].get("codes", {})
        return int(c.get("categorical", 0)), int(c.get("continuous", 0))

    @torch.no_grad()
    def traverse(self, code: int | None, steps: int = 10, seed: int = 0) -> torch.Tensor:
        """InfoGAN code traversal (Chen et al. 2016, Fig. 2): row r has categorical code r;
        along a row continuous code ``code`` goes from -2 to 2 (noise fixed per row, other
        continuous codes 0), or, with ``code=None``, the noise varies. (K * steps, *shape)."""
        k, c = self.codes
        if not k and not c:
            raise ConfigError("this generator has no InfoGAN codes (use --label or no option).")
        if code is not None and not 0 <= code < c:
            raise ConfigError(f"--code must be a continuous code in 0..{c - 1}, got {code}.")
        rows = max(k, 1)
        device = next(self.net.parameters()).device
        g = torch.Generator(device=device).manual_seed(seed)
        n = rows * steps
        if code is None:
            z = self._noise((n, self.latent_dim), g, device)
        else:
            z = self._noise((rows, 1, self.latent_dim), g, device)
            z = z.expand(rows, steps, self.latent_dim).reshape(n, self.latent_dim)
        c_cat = torch.arange(rows, device=device).repeat_interleave(steps)
        c_cont = torch.zeros(n, c, device=device)
        if code is not None:
            c_cont[:, code] = torch.linspace(-2, 2, steps, device=device).repeat(rows)
        return self.net(with_codes(z, c_cat, c_cont, k))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int = 0,
        batch_size: int = 256,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n`` samples from z ~ N(0, I) (InfoGAN: the training noise) drawn with ``seed``:
        (n, *shape).

        A conditional generator takes ``labels`` (n,) int64; by default the classes in
        equal blocks (class k for samples [k n / K, (k + 1) n / K)).
        """
        if self.translates:
            raise ConfigError(
                "this generator translates images: use `ganforge translate RUN --input DIR` "
                "(or `ganforge upscale`), or Generator.translate(x)."
            )
        device = next(self.net.parameters()).device
        g = torch.Generator(device=device).manual_seed(seed)
        z = self._noise((n, self.latent_dim), g, device)
        if any(self.codes):  # InfoGAN: codes drawn like the training ones, after z
            k, c = self.codes
            z = with_codes(z, *draw_codes(n, k, c, device, g), k)
        k = self.num_classes
        if not k:
            if labels is not None:
                raise ConfigError("this generator is unconditional: it takes no labels.")
            return torch.cat([self.net(z[i : i + batch_size]) for i in range(0, n, batch_size)])
        y = balanced_labels(n, k, device) if labels is None else labels.to(device)
        if y.shape != (n,) or int(y.min()) < 0 or int(y.max()) >= k:
            raise ConfigError(f"labels must be {n} class indices in 0..{k - 1}.")
        return torch.cat(
            [
                self.net(z[i : i + batch_size], y[i : i + batch_size])
                for i in range(0, n, batch_size)
            ]
        )


def load(path: Path | str, device: str = "cpu") -> Generator:
    """Load an exported generator from a run dir (or its ``generator.json``)."""
    from ganforge.engine.checkpoint import read_safetensors_weights

    path = Path(path)
    folder = path.parent if path.suffix == ".json" else path
    meta_path, weights = folder / "generator.json", folder / "generator.safetensors"
    if not meta_path.is_file() or not weights.is_file():
        raise CheckpointError(
            f"{folder} has no exported generator (generator.json + generator.safetensors). "
            "It is written at the end of training; `ganforge resume` finishes a stopped run."
        )
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        spec = meta["net"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path} is damaged: {e}.") from None
    registry.load_all()
    net = registry.NETS.build(spec, "generator.json net")
    try:
        net.load_state_dict(read_safetensors_weights(weights))
    except RuntimeError as e:
        raise CheckpointError(f"{weights} does not match {meta_path}: {e}") from None
    return Generator(net.to(device), meta)


def load_trained(run_dir: Path | str, device: str = "cpu") -> tuple[Any, RunConfig]:
    """A run's algorithm with every network at its latest checkpoint, in eval mode, and
    the run's config: the critic, encoder or classifier heads that the exported generator
    leaves out (feature probes, InfoGAN's Q head, SSGAN's classifier, BiGAN's encoder)."""
    from ganforge.engine.checkpoint import latest_checkpoint, load_checkpoint

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise GanforgeError(f"{run_dir} is not a ganforge run dir (no config.yaml).")
    cfg = load_config(str(run_dir / "config.yaml"))
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"device": device})})
    algo = build(cfg).algorithm
    state = load_checkpoint(latest_checkpoint(run_dir / "checkpoints"))
    for key, net in algo.nets.items():
        net.load_state_dict(state["nets"][key])
        net.eval()
    return algo, cfg


def set_threads_from_env() -> None:
    """Respect GANFORGE_THREADS (tests and benchmarks pin threads for reproducible speed)."""
    n = os.environ.get("GANFORGE_THREADS")
    if n and n.isdigit():
        torch.set_num_threads(int(n))
