"""The playground: live 2-D GAN training through ganforge's own algorithm and trainer.

A :class:`PlaygroundConfig` (what the page sends) becomes an ordinary ganforge run
config (``mlp-g``/``mlp-d``, ``unconditional`` or ``unrolled``, the objective, the
``gradient-penalty`` penalty, the ``label-smoothing`` and ``instance-noise``
techniques), which :func:`ganforge.engine.run.build` and
:class:`ganforge.engine.trainer.Trainer` train exactly as ``ganforge train`` would:
nothing here computes a loss or steps an optimizer.

- :class:`PlaygroundSession` owns the built algorithm and trainer: ``step``,
  ``iterate``, ``reset`` and ``frame`` (the JSON-able picture of the plane: real and
  fake samples, critic heatmap, generator manifold, gradient arrows, losses and
  metrics). Every method takes the session's lock, so the model is only ever touched
  by one thread at a time.
- :class:`SessionWorker` is the background thread of one session: it plays (trains
  and publishes frames at :attr:`SessionWorker.fps`) and executes the page's commands.

One iteration is ``d_steps`` critic updates followed by ``g_steps`` generator updates,
each on a fresh batch. The engine's own schedule (``Phase.every`` with
``algorithm.n_critic``) can express "n critic steps per generator step" but not
several generator steps in a row, nor a lone critic or generator step (the page's
"step D" / "step G" buttons), so the session drives :meth:`Trainer.run_phase` with the
algorithm's own ``d`` and ``g`` phases: the same code path as ``Trainer.train_step``,
one phase at a time. ``trainer.step`` counts iterations (the step the algorithm sees,
e.g. for annealing instance noise).
"""

from __future__ import annotations

import collections
import json
import math
import queue
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganforge import registry
from ganforge.config import load_config
from ganforge.engine.run import Built, build
from ganforge.engine.trainer import Trainer
from ganforge.errors import ConfigError, GanforgeError, TrainingDiverged
from ganforge.metrics.toy import mode_metrics
from ganforge.objectives.base import is_stateful, needs_samples
from ganforge.techniques.packing import pack
from ganforge.theory.discriminator import jsd, kl

# -- what the page may ask for ------------------------------------------------------------
#: The datasets of the playground (``custom``: points drawn on the page).
DATASETS = ("ring8", "grid25", "spiral", "line", "custom")
#: Bounds of every numeric setting, [low, high] inclusive (also sent by /api/options).
LIMITS: dict[str, list[float]] = {
    "hidden_width": [4, 256],
    "hidden_layers": [1, 6],
    "batch_size": [8, 1024],
    "lr": [1e-6, 1.0],
    "steps_per_iter": [1, 10],
    "custom_points": [1, 2000],
    "pack": [1, 8],
    "unroll_steps": [0, 10],
    "speed": [1, 100],
    "latent_dim": [2, 16],
    "gradient_penalty": [0.0, 100.0],
    "instance_noise": [0.0, 2.0],
    "label_smoothing": [0.0, 0.5],
    "seed": [0, 2**31 - 1],
}
#: Custom points live in this square (the drawing canvas of the page).
CUSTOM_BOUND = 4.0
#: Instance noise decays linearly to 0 over this many iterations.
NOISE_ANNEAL = 2000

N_SHOWN = 512  # real and fake points sent per frame
N_METRIC = 2500  # samples for modes / % HQ / KL / JS (the PacGAN protocol's 2,500)
HEATMAP = 48  # heatmap cells per side
MANIFOLD = 15  # manifold grid points per side
HIST = 32  # histogram cells per side for KL / JS
ARROW_FRACTION = 0.08  # the longest arrow is this fraction of the plane's width


def _limit(name: str, kind: type = float) -> Any:
    """``Annotated[kind, Field(ge=low, le=high)]`` for the bounds ``LIMITS[name]``."""
    low, high = LIMITS[name]
    return Annotated[kind, Field(ge=kind(low), le=kind(high))]


Layers = _limit("hidden_layers", int)
Width = _limit("hidden_width", int)
LearningRate = _limit("lr")
StepsPerIter = _limit("steps_per_iter", int)
PackDegree = _limit("pack", int)
UnrollSteps = _limit("unroll_steps", int)
LatentDim = _limit("latent_dim", int)
BatchSize = _limit("batch_size", int)
Seed = _limit("seed", int)
PenaltyWeight = _limit("gradient_penalty")
NoiseStd = _limit("instance_noise")
Smoothing = _limit("label_smoothing")


class NetSettings(BaseModel):
    """One network of the pair: depth, width, optimizer and learning rate."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    layers: Layers = 2
    width: Width = 64
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    lr: LearningRate = 1e-3


Point = Annotated[
    list[Annotated[float, Field(ge=-CUSTOM_BOUND, le=CUSTOM_BOUND)]],
    Field(min_length=2, max_length=2),
]


class PlaygroundConfig(BaseModel):
    """Everything the playground page can set (see docs/lab.md); every field optional.

    Validated strictly (no type coercion, no NaN/inf, no unknown keys) against
    :data:`LIMITS`. Whether the *combination* is valid (label smoothing needs a BCE
    objective, the batch size a multiple of ``pack``) is decided by ganforge's own config
    and build checks in :meth:`PlaygroundSession.build`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data: Literal["ring8", "grid25", "spiral", "line", "custom"] = "ring8"
    #: custom data only (ignored otherwise): 1..2000 points in [-4, 4]^2
    points: Annotated[list[Point], Field(max_length=int(LIMITS["custom_points"][1]))] | None = None
    objective: Annotated[str, Field(max_length=64)] = "ns"
    gradient_penalty: PenaltyWeight = 0.0
    pack: PackDegree = 1
    unroll_steps: UnrollSteps = 0
    instance_noise: NoiseStd = 0.0
    label_smoothing: Smoothing = 0.0
    g: NetSettings = NetSettings()
    d: NetSettings = NetSettings()
    d_steps: StepsPerIter = 1
    g_steps: StepsPerIter = 1
    batch_size: BatchSize = 128
    latent_dim: LatentDim = 2
    seed: Seed = 0

    @model_validator(mode="after")
    def _points_for_custom(self) -> PlaygroundConfig:
        if self.data == "custom":
            if not self.points:
                raise ValueError(
                    "data 'custom' needs points: a list of 1 to 2000 [x, y] pairs in "
                    "[-4, 4] (draw some on the plane first)."
                )
        else:
            # points drawn earlier may still be on the page: they only matter for custom
            self.points = None
        return self


def run_config(pc: PlaygroundConfig) -> dict[str, Any]:
    """The ordinary ganforge run config (a dict for :func:`ganforge.config.load_config`)."""
    data: dict[str, Any] = {"name": pc.data}
    if pc.data == "custom":
        data["points"] = [list(p) for p in pc.points or []]
    algorithm: dict[str, Any] = {
        "name": "unconditional",
        "latent_dim": pc.latent_dim,
        "pack": pc.pack,
    }
    if pc.unroll_steps > 0:
        algorithm.update(
            name="unrolled",
            unroll_steps=pc.unroll_steps,
            # the look-ahead imitates the critic's own optimiser at the critic's rate
            unroll_lr=pc.d.lr,
            unroll_optimizer="sgd" if pc.d.optimizer == "sgd" else "adam",
        )
    techniques: list[dict[str, Any]] = []
    if pc.label_smoothing > 0:  # first: it sets the critic targets afresh
        techniques.append({"name": "label-smoothing", "real": pc.label_smoothing})
    if pc.instance_noise > 0:
        techniques.append(
            {"name": "instance-noise", "std": pc.instance_noise, "anneal_steps": NOISE_ANNEAL}
        )
    penalties = []
    if pc.gradient_penalty > 0:
        penalties.append({"name": "gradient-penalty", "weight": pc.gradient_penalty})

    def net(name: str, s: NetSettings, activation: str) -> dict[str, Any]:
        return {"name": name, "hidden": [s.width] * s.layers, "activation": activation}

    return {
        "recipe": "lab-playground",
        "description": "a ganforge lab playground session",
        "seed": pc.seed,
        "data": data,
        "nets": {"g": net("mlp-g", pc.g, "relu"), "d": net("mlp-d", pc.d, "leaky_relu")},
        "algorithm": algorithm,
        "objective": {"name": pc.objective},
        "penalties": penalties,
        "techniques": techniques,
        "optim": {
            "g": {"name": pc.g.optimizer, "lr": pc.g.lr},
            "d": {"name": pc.d.optimizer, "lr": pc.d.lr},
        },
        # CPU always: networks this small train faster there than with a GPU sync per frame
        "train": {"steps": 1, "batch_size": pc.batch_size, "ema": None, "device": "cpu"},
    }


@lru_cache(maxsize=1)
def playable_objectives() -> tuple[str, ...]:
    """Registered objectives that train a 2-D MLP pair with no extra networks: those whose
    playground config passes ganforge's validation."""
    registry.load_all()
    ok = []
    for name in registry.OBJECTIVES.names():
        try:
            load_config(run_config(PlaygroundConfig(objective=name)))
        except GanforgeError:
            continue
        ok.append(name)
    return tuple(ok)


def check_objective(name: str) -> None:
    """Raise ConfigError (with the registry's did-you-mean) unless ``name`` is playable."""
    registry.load_all()
    registry.OBJECTIVES.entry(name, "objective")
    if name not in playable_objectives():
        raise ConfigError(
            f"objective {name!r} cannot train in the playground (it needs more than a 2-D "
            f"MLP pair); choose one of {', '.join(playable_objectives())}."
        )


def plane_bounds(extent: float) -> dict[str, list[float]]:
    """The square of the plane for data within ``extent`` of the origin (max |coordinate|
    of the mode centres, or of the drawn points): a margin of 0.5, rounded up to half
    units (ring8: [-1.5, 1.5], grid25: [-4.5, 4.5])."""
    half = math.ceil((extent + 0.5) * 2) / 2
    return {"x": [-half, half], "y": [-half, half]}


@lru_cache(maxsize=1)
def all_plane_bounds() -> dict[str, dict[str, list[float]]]:
    """:func:`plane_bounds` of every playground dataset (for /api/options); for custom
    data the square the drawn points must lie in (a session's frames then show the
    bounds of its points)."""
    registry.load_all()
    out = {}
    for d in DATASETS:
        if d == "custom":
            out[d] = {"x": [-CUSTOM_BOUND, CUSTOM_BOUND], "y": [-CUSTOM_BOUND, CUSTOM_BOUND]}
        else:
            centers = registry.DATASETS.build({"name": d, "n": 16}, "data").info["centers"]
            out[d] = plane_bounds(float(centers.abs().max()))
    return out


# -- JSON helpers ----------------------------------------------------------------------------
def _nums(x: torch.Tensor | np.ndarray, decimals: int = 4) -> list[Any]:
    """Nested lists of rounded floats; non-finite values (a diverged model) become None,
    since JSON has no NaN and the page's JSON.parse would reject it."""
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = np.round(a.astype(np.float64), decimals)
    finite = np.isfinite(a)
    if finite.all():
        return a.tolist()
    obj = a.astype(object)
    obj[~finite] = None
    return obj.tolist()


def _num(x: float | None, decimals: int = 5) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), decimals)


def dumps(obj: Any) -> str:
    """Compact JSON, refusing NaN (which browsers cannot parse)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


# -- the session -----------------------------------------------------------------------------
LAYERS = ("heatmap", "manifold", "arrows")


class PlaygroundSession:
    """A built GAN on 2-D data and everything needed to show it.

    Args:
        config: a validated :class:`PlaygroundConfig`.

    Raises:
        ConfigError: the combination is invalid (ganforge's message, e.g. label
            smoothing with a non-BCE objective, or a batch size not a multiple of pack).
    """

    def __init__(self, config: PlaygroundConfig) -> None:
        check_objective(config.objective)
        if config.unroll_steps > 0 and config.pack > 1:
            # The unrolled GAN's look-ahead critic steps are given the generator phase's
            # unpacked real batch, so pack > 1 fails inside `ganforge train` as well;
            # refuse it here with a message instead of a shape error mid-training.
            raise ConfigError(
                f"unroll_steps={config.unroll_steps} with pack={config.pack} is not "
                "supported yet (the unrolled GAN's look-ahead does not pack real samples); "
                "set pack to 1 or unroll_steps to 0."
            )
        self.config = config
        self.lock = threading.RLock()
        self.cfg = load_config(run_config(config))
        self.diverged: str | None = None
        self.build()

    # -- building ------------------------------------------------------------------------
    def build(self) -> None:
        """(Re)build data, networks, optimizers and trainer from the config: a reset."""
        with self.lock:
            self.built: Built = build(self.cfg)
            self.algorithm = self.built.algorithm
            self.trainer = Trainer(
                self.algorithm,
                self.built.optimizers,
                self.built.dataset,
                self.built.sampler,
                ema_decay=None,
                callbacks=[],
            )
            for net in self.algorithm.nets.values():
                net.train()
            phases = {p.name: p for p in self.trainer.phases}
            if set(phases) != {"d", "g"}:  # both playground algorithms have exactly these
                raise ConfigError(f"the playground needs phases d and g, got {sorted(phases)}")
            self.phases = phases
            self.updates = {"d": 0, "g": 0}
            self.losses: dict[str, float | None] = {"d": None, "g": None}
            self.diverged = None
            self._fixed_inputs()

    def _fixed_inputs(self) -> None:
        """Real samples, noise, grids: fixed per session (own generators, so the training
        RNG stream is not touched)."""
        ds = self.built.dataset
        seed = self.config.seed
        g = torch.Generator().manual_seed(seed + 1)
        idx = torch.randperm(len(ds), generator=g)[:N_METRIC]
        if len(idx) < N_METRIC:  # tiny datasets: draw with replacement
            idx = torch.randint(len(ds), (N_METRIC,), generator=g)
        self.real = ds.tensors["real"][idx].float().cpu()
        self.noise = torch.randn(N_METRIC, self.algorithm.latent_dim, generator=g)
        self.centers = ds.info["centers"]
        self.std = float(ds.info["std"])
        points = self.config.points if self.config.data == "custom" else self.centers
        self.bounds = plane_bounds(float(torch.as_tensor(points).abs().max()))
        (x0, x1), (y0, y1) = self.bounds["x"], self.bounds["y"]
        # heatmap: cell centres, row-major from (x0, y0): value[iy * nx + ix]
        xs = x0 + (torch.arange(HEATMAP) + 0.5) * (x1 - x0) / HEATMAP
        ys = y0 + (torch.arange(HEATMAP) + 0.5) * (y1 - y0) / HEATMAP
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        self.grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
        # manifold: a 15x15 grid on the first two latent dimensions, row-major
        t = torch.linspace(-2.0, 2.0, MANIFOLD)
        zy, zx = torch.meshgrid(t, t, indexing="ij")
        z = torch.zeros(MANIFOLD * MANIFOLD, self.algorithm.latent_dim)
        z[:, 0], z[:, 1] = zx.reshape(-1), zy.reshape(-1)
        self.manifold_noise = z
        edges_x = np.linspace(x0, x1, HIST + 1)
        edges_y = np.linspace(y0, y1, HIST + 1)
        self.hist_edges = (edges_x, edges_y)
        self.real_hist = self._histogram(self.real.numpy())

    # -- training ------------------------------------------------------------------------
    @property
    def iterations(self) -> int:
        """Iterations done (``trainer.step``)."""
        return self.trainer.step

    def _run(self, phase: str) -> None:
        if self.diverged:
            raise TrainingDiverged(self.diverged)
        self.trainer.run_phase(self.phases[phase], self.trainer.next_batch())
        self.updates[phase] += 1

    def iterate(self, n: int = 1) -> None:
        """``n`` iterations: ``d_steps`` critic updates, then ``g_steps`` generator ones."""
        with self.lock:
            for _ in range(n):
                for _ in range(self.config.d_steps):
                    self._run("d")
                for _ in range(self.config.g_steps):
                    self._run("g")
                self.trainer.step += 1

    def step(self, what: Literal["d", "g", "both"]) -> None:
        """One critic update (``d``), one generator update (``g``) or one iteration."""
        with self.lock:
            if what == "both":
                self.iterate(1)
            elif what in ("d", "g"):
                self._run(what)
            else:
                raise ValueError(f"step what must be d, g or both, got {what!r}")

    def reset(self) -> None:
        """Back to the initial networks (same seed: the same start as before)."""
        self.build()

    def _read_losses(self) -> None:
        """The mean phase losses since the last read; the engine's NaN guard runs here."""
        if self.diverged:
            return
        try:
            scalars = self.trainer.flush_scalars()
        except TrainingDiverged:
            # the engine's message speaks of checkpoints and --set; say it in page terms
            self.diverged = (
                "Training diverged: a loss became NaN or infinite by iteration "
                f"{self.iterations}. Press reset, then lower the learning rates, add a "
                "gradient penalty or choose another objective."
            )
            raise TrainingDiverged(self.diverged) from None
        for k in ("d", "g"):
            if f"loss/{k}" in scalars:
                self.losses[k] = scalars[f"loss/{k}"]

    # -- the picture ---------------------------------------------------------------------
    def _histogram(self, pts: np.ndarray) -> np.ndarray:
        """32x32 counts over the plane; points outside are clipped into the border cells
        (so mass that leaves the plane still counts), non-finite points dropped."""
        pts = pts[np.isfinite(pts).all(axis=1)]
        ex, ey = self.hist_edges
        x = np.clip(pts[:, 0], ex[0], ex[-1])
        y = np.clip(pts[:, 1], ey[0], ey[-1])
        h, _, _ = np.histogram2d(x, y, bins=(ex, ey))
        return h

    def _critic_scores(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's score at points x (N, 2): each point repeated ``pack`` times, so a
        PacGAN critic judges m copies of the same point."""
        m = self.algorithm.pack
        out = self.algorithm.nets["d"](pack(x.repeat_interleave(m, dim=0), m))
        return out.score.reshape(len(x), -1).mean(dim=1)

    def _arrows(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """-d(generator loss)/d(sample) for each fake sample, scaled for display.

        The loss is the objective's generator loss against the critic the generator's
        step uses (``algorithm.generator_critic``: the critic itself, or the unrolled
        GAN's look-ahead copy), on the packed fixed samples, without instance noise
        (random noise would make the arrows flicker). The longest arrow is
        ``ARROW_FRACTION`` of the plane's width.
        """
        algo, m = self.algorithm, self.algorithm.pack
        x = fake.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            fake_in, real_in = pack(x, m), pack(real, m)
            critic = algo.generator_critic(real_in, fake_in, self.iterations)
            out_fake = critic(fake_in)
            obj = algo.objective
            out_real = critic(real_in) if obj.needs_real_for_g else None
            kw: dict[str, Any] = {}
            if needs_samples(obj):
                kw.update(x_real=real_in, x_fake=fake_in)
            if is_stateful(obj):
                kw["state"] = algo.states["objective"]
            loss = obj.g_loss(out_fake, out_real, **kw)
            (grad,) = torch.autograd.grad(loss, x)
        arrows = -grad
        norm = arrows.norm(dim=1)
        top = float(norm[torch.isfinite(norm)].max()) if torch.isfinite(norm).any() else 0.0
        width = self.bounds["x"][1] - self.bounds["x"][0]
        return arrows * (ARROW_FRACTION * width / top) if top > 0 else torch.zeros_like(arrows)

    def frame(
        self,
        layers: dict[str, bool] | None = None,
        playing: bool = False,
        steps_per_s: float = 0.0,
    ) -> dict[str, Any]:
        """The frame of docs/lab.md (a JSON-able dict). Layers switched off are None.

        Never changes the training state: the global RNG is forked (the unrolled GAN's
        look-ahead and penalties draw random numbers) and no optimizer steps.

        Raises:
            TrainingDiverged: a loss became NaN/inf since the last frame (the frame is
                then computed by :meth:`frame` again after the error has been reported).
        """
        layers = {k: True for k in LAYERS} | (layers or {})
        with self.lock, torch.random.fork_rng(devices=[]):
            self._read_losses()
            g = self.algorithm.nets["g"]
            with torch.no_grad():
                fake_all = g(self.noise).float()
                fake, real = fake_all[:N_SHOWN], self.real[:N_SHOWN]
                heat = None
                if layers["heatmap"]:
                    values = _nums(self._critic_scores(self.grid), 3)
                    finite = [v for v in values if v is not None]
                    heat = {
                        "x": self.bounds["x"],
                        "y": self.bounds["y"],
                        "nx": HEATMAP,
                        "ny": HEATMAP,
                        "values": values,
                        "min": min(finite, default=None),
                        "max": max(finite, default=None),
                    }
                manifold = None
                if layers["manifold"]:
                    manifold = {
                        "nx": MANIFOLD,
                        "ny": MANIFOLD,
                        "points": _nums(g(self.manifold_noise)),
                    }
            arrows = _nums(self._arrows(fake, real)) if layers["arrows"] else None
            metrics = self._metrics(fake_all.numpy())
            return {
                "type": "frame",
                "step": self.iterations,
                "updates": dict(self.updates),
                "playing": playing,
                "steps_per_s": _num(steps_per_s, 1) or 0.0,
                "real": _nums(real),
                "fake": _nums(fake),
                "arrows": arrows,
                "heatmap": heat,
                "manifold": manifold,
                "bounds": self.bounds,
                "losses": {k: _num(v) for k, v in self.losses.items()},
                "metrics": metrics,
            }

    def _metrics(self, fake: np.ndarray) -> dict[str, Any]:
        """Modes covered and the fraction of high-quality samples (PacGAN protocol, 2,500
        samples), and KL / JS between 32x32 histograms of real and fake samples with
        add-one smoothing (so that empty cells keep KL finite)."""
        mm = mode_metrics(fake, self.centers, self.std)
        p = self.real_hist + 1.0
        q = self._histogram(fake) + 1.0
        p, q = p / p.sum(), q / q.sum()
        return {
            "modes": mm["modes_covered"],
            "modes_total": mm["n_modes"],
            "hq": _num(mm["high_quality"], 4),  # a fraction in [0, 1]
            "kl": _num(float(kl(p, q, axis=None))),
            "js": _num(float(jsd(p, q, axis=None))),
        }


# -- the background thread -------------------------------------------------------------------
Publish = Callable[[str, str], None]


class SessionWorker:
    """The thread that trains one session and answers its commands.

    ``publish(kind, text)`` receives ``("frame", json)`` and ``("error", json)``
    messages; it is called from this thread and must not block (the app hands them to
    its event loop). Commands are dicts already validated by the app (see
    :meth:`send`).

    While playing, the thread runs up to ``speed`` iterations per frame period and then
    a frame, so frames come at :attr:`fps` however fast training is (and at most
    ``speed * fps`` iterations per second: the speed slider). While paused it waits for
    commands and answers each with one frame. The model is only touched by this thread.
    """

    fps = 15.0  # >= 10 frames/s with margin for a busy machine

    def __init__(self, session: PlaygroundSession, publish: Publish, name: str = "") -> None:
        self.session = session
        self.publish = publish
        self.playing = False
        self.speed = 100
        self.layers = {k: True for k in LAYERS}
        self.commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stop = threading.Event()
        self._rate: collections.deque[tuple[float, int]] = collections.deque()
        self.thread = threading.Thread(
            target=self._main, name=f"ganforge-lab-{name or id(self)}", daemon=True
        )

    # -- control from other threads ------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def send(self, command: dict[str, Any]) -> None:
        """Queue a command: ``{"action": "play" | "pause" | "reset" | "frame"}``,
        ``{"action": "step", "what": "d" | "g" | "both"}``, ``{"action": "speed",
        "value": 1..100}`` or ``{"action": "layers", "value": {layer: bool}}``."""
        self.commands.put(command)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end (and wait up to ``timeout`` s for it when given)."""
        self._stop.set()
        self.commands.put(None)  # wake a thread waiting for commands
        if timeout is not None and self.thread.is_alive():
            self.thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------
    def _main(self) -> None:
        # No torch.set_num_threads here: it is process-wide, not per thread. `ganforge
        # lab` sets 1 for the whole server (see ganforge.lab.serve).
        period = 1.0 / self.fps
        next_frame = time.monotonic()
        budget = 0
        while not self._stop.is_set():
            now = time.monotonic()
            if self.playing and now >= next_frame:
                self._publish_frame()
                next_frame = max(next_frame + period, now)  # no burst after a stall
                budget = self.speed
                continue
            if self.playing and budget > 0:
                try:
                    command = self.commands.get_nowait()
                except queue.Empty:
                    self._guarded(self.session.iterate, 1)
                    budget -= 1
                    continue
            else:  # paused, or this period's budget spent: wait for a command or the frame
                wait = max(0.0, next_frame - now) if self.playing else 0.5
                try:
                    command = self.commands.get(timeout=wait)
                except queue.Empty:
                    continue
            if command is None:
                continue
            if self._handle(command) and self.playing:
                next_frame, budget = time.monotonic(), self.speed

    def _handle(self, c: dict[str, Any]) -> bool:
        """Execute one command; return True when play (re)started."""
        action = c["action"]
        if action == "play":
            started = not self.playing and not self.session.diverged
            if self.session.diverged:
                self._error(self.session.diverged)
            self.playing = not self.session.diverged
            self._rate.clear()
            if not started:
                self._publish_frame()
            return started
        if action == "pause":
            self.playing = False
        elif action == "step":
            self.playing = False  # a single step means: stop and look
            self._guarded(self.session.step, c["what"])
        elif action == "reset":
            self._guarded(self.session.reset)
            self._rate.clear()
        elif action == "speed":
            self.speed = int(c["value"])
        elif action == "layers":
            self.layers.update(c["value"])
        if not self.playing or action == "reset":
            self._publish_frame()
        return False

    def _guarded(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a training call; on a failure, pause and tell the page instead of dying."""
        try:
            fn(*args)
        except GanforgeError as e:
            self.playing = False
            self._error(str(e))
        except Exception as e:  # a bug: the session stays usable and the page is told
            self.playing = False
            self._error(f"unexpected {type(e).__name__}: {e}")

    def _error(self, message: str) -> None:
        self.publish("error", dumps({"type": "error", "error": message}))

    def steps_per_s(self) -> float:
        """Iterations per second over the last second of play (0 when paused)."""
        if not self.playing:
            return 0.0
        now, it = time.monotonic(), self.session.iterations
        self._rate.append((now, it))
        while len(self._rate) > 2 and now - self._rate[0][0] > 1.0:
            self._rate.popleft()
        t0, i0 = self._rate[0]
        return (it - i0) / (now - t0) if now > t0 else 0.0

    def _publish_frame(self) -> None:
        try:
            frame = self.session.frame(self.layers, self.playing, self.steps_per_s())
        except TrainingDiverged as e:
            self.playing = False
            self._error(str(e))
            frame = self.session.frame(self.layers, False, 0.0)  # diverged: no second raise
        except Exception as e:
            self.playing = False
            self._error(f"unexpected {type(e).__name__} while drawing a frame: {e}")
            return
        self.publish("frame", dumps(frame))
