"""The generic training loop: the engine owns the loop, the algorithm owns the step.

Each step draws one batch; for every phase due at that step the trainer zeroes the
phase optimizer's gradients, asks the algorithm for the loss, back-propagates, clips,
steps, and updates the EMA copies. Nothing here knows which GAN it trains.

Host synchronisation is kept out of the hot path: losses are accumulated as tensors
and read (together with the NaN/inf guard) only every ``log_every`` steps and before
each checkpoint.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ganforge.algorithms.base import Algorithm, Phase
from ganforge.data.base import InfiniteSampler, TensorDataset
from ganforge.engine.distributed import Distributed
from ganforge.engine.ema import EMA
from ganforge.errors import TrainingDiverged
from ganforge.nn.parallel import Shard, active_shard
from ganforge.nn.precision import active_loss_scale


class Callback(Protocol):
    """Hooks the trainer calls; every method is optional."""

    def on_step_end(self, trainer: Trainer) -> None: ...


def rng_state() -> dict[str, Any]:
    """All global RNG states (torch CPU and CUDA, NumPy, Python) as a checkpointable tree."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "rest": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        },
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    rest = state["numpy"]["rest"]
    keys = state["numpy"]["keys"].numpy().astype(np.uint32)
    np.random.set_state((rest[0], keys, rest[1], rest[2], rest[3]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Runs an algorithm's phases over an endless stream of batches.

    Args:
        algorithm: owns the networks and computes each phase's loss.
        optimizers: one per key of ``algorithm.optimizers``.
        dataset, sampler: where batches come from (``dataset.batch(next(sampler))``).
        lr_schedule: "constant" or "linear" (decay to 0 at ``total_steps``, from
            ``lr_decay_start``).
        ema_decay: decay of the EMA copies of ``algorithm.ema_networks`` (None: no copy).
        grad_clip: max gradient norm per phase (None: off).
        precision: "fp32", or "bf16"/"fp16" autocast on CUDA (on CPU: fp32).
        log_every: steps between reads of the accumulated losses (and the NaN guard).
        callbacks: objects with ``on_step_end(trainer)``, called after every step.
        channels_last: hand 4-D float batches over in channels-last layout (pair with
            networks converted by ``train.channels_last``).
        dist: the data-parallel group (:mod:`ganforge.engine.distributed`); None: one
            process. The trainer shards batches, averages gradients and scalars over it.
    """

    def __init__(
        self,
        algorithm: Algorithm,
        optimizers: dict[str, torch.optim.Optimizer],
        dataset: TensorDataset,
        sampler: InfiniteSampler,
        *,
        ema_decay: float | None = 0.999,
        ema_start: int = 0,
        grad_clip: float | None = None,
        precision: str = "fp32",
        log_every: int = 50,
        lr_schedule: str = "constant",
        lr_decay_start: int = 0,
        total_steps: int | None = None,
        callbacks: list[Any] | tuple[Any, ...] = (),
        dist: Distributed | None = None,
        channels_last: bool = False,
    ) -> None:
        if set(optimizers) != set(algorithm.optimizers):
            raise ValueError(
                f"optimizers {sorted(optimizers)} do not match the algorithm's "
                f"{sorted(algorithm.optimizers)}"
            )
        self.algorithm = algorithm
        self.optimizers = optimizers
        self.dataset, self.sampler = dataset, sampler
        self.phases: list[Phase] = algorithm.phases()
        self.grad_clip = grad_clip
        self.log_every = log_every
        if lr_schedule not in ("constant", "linear"):
            raise ValueError(f"unknown lr_schedule {lr_schedule!r}")
        if lr_schedule == "linear" and total_steps is None:
            raise ValueError("a linear lr schedule needs total_steps")
        self.lr_schedule, self.lr_decay_start = lr_schedule, lr_decay_start
        self.total_steps = total_steps
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.callbacks = list(callbacks)
        self.step = 0
        self.device = algorithm.device
        ema_nets = {k: algorithm.nets[k] for k in algorithm.ema_networks}
        self.ema = EMA(ema_nets, ema_decay, ema_start) if ema_decay is not None else None
        self.precision = precision if self.device.type == "cuda" else "fp32"
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self._owned = {
            opt: [algorithm.nets[n] for n in nets] for opt, nets in algorithm.optimizers.items()
        }
        self._phase_params = {
            opt: [p for net in nets for p in net.parameters()] for opt, nets in self._owned.items()
        }
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._bad = torch.zeros((), dtype=torch.bool, device=self.device)
        self._bad_names: dict[str, torch.Tensor] = {}
        self.last_scalars: dict[str, float] = {}
        self._t_last = time.perf_counter()
        self._step_last = 0
        self._stop_requested = False  # asked for (a signal handler, a callback)
        self._stop_agreed = False  # acted on: by every rank at the same step
        self.dist = dist or Distributed()
        self.channels_last = channels_last
        self.dist.broadcast_parameters(algorithm.nets.values())

    # -- the loop -------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _set_trainable(self, optimizer: str) -> None:
        # Only the networks this phase steps need parameter gradients: skipping the rest
        # saves their weight-gradient computation (gradients w.r.t. inputs still flow).
        owned = self._owned[optimizer]
        for net in self.algorithm.nets.values():
            net.requires_grad_(any(net is o for o in owned))

    def _accumulate(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().float()
        finite = torch.isfinite(v)
        n: torch.Tensor | int = 1
        if self.scaler is not None:
            # fp16: a step whose loss or gradients overflowed is skipped by the scaler
            # (which halves its scale); its values are left out of the means and are not
            # a divergence. A scale that keeps falling is one (check_finite).
            n = finite.to(torch.float32)
            v = torch.where(finite, v, torch.zeros_like(v))
        if name in self._sums:
            self._sums[name] += v
            self._counts[name] += n
        else:
            self._sums[name], self._counts[name] = v.clone(), n
        if self.scaler is not None:
            return
        self._bad |= ~finite
        if name.startswith("loss/"):
            self._bad_names[name] = self._bad_names.get(name, torch.zeros_like(finite)) | ~finite

    def _loss_scale(self) -> torch.Tensor | None:
        """The GradScaler's current scale as a device tensor (no host sync), or None."""
        if self.scaler is None:
            return None
        if self.scaler._scale is None:  # created lazily by the first scale() call
            self.scaler.scale(torch.zeros((), device=self.device))
        return self.scaler._get_scale_async()

    def run_phase(self, phase: Phase, batch: dict[str, torch.Tensor]) -> None:
        opt = self.optimizers[phase.optimizer]
        self._set_trainable(phase.optimizer)
        opt.zero_grad(set_to_none=True)
        # gradients taken inside the loss (penalties, look-aheads) use the fp16 loss scale
        with self._autocast(), active_loss_scale(self._loss_scale()):
            out = self.algorithm.loss(phase.name, batch, self.step)
        self._accumulate(f"loss/{phase.name}", out.loss)
        for k, v in out.logs.items():
            self._accumulate(k, v)
        if self.scaler is not None:
            self.scaler.scale(out.loss).backward()
            self.dist.average_gradients(self._phase_params[phase.optimizer])
            if self.grad_clip is not None:
                self.scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(self._phase_params[phase.optimizer], self.grad_clip)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            out.loss.backward()
            self.dist.average_gradients(self._phase_params[phase.optimizer])
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(self._phase_params[phase.optimizer], self.grad_clip)
            opt.step()
        self.algorithm.after_step(phase.name, self.step)
        if self.ema is not None and any(
            n in self.algorithm.ema_networks for n in self.algorithm.optimizers[phase.optimizer]
        ):
            self.ema.update(self.algorithm.nets, self.step)

    def next_batch(self) -> dict[str, torch.Tensor]:
        batch = self.dataset.batch(self.dist.local(next(self.sampler)))
        out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        if self.channels_last:
            out = {k: _channels_last(v) for k, v in out.items()}
        return out

    def lr_factor(self, step: int) -> float:
        """Multiplier of the initial learning rates at ``step`` (a function of the step
        only, so a resumed run follows the same schedule)."""
        if self.lr_schedule == "constant" or step < self.lr_decay_start:
            return 1.0
        assert self.total_steps is not None
        span = max(self.total_steps - self.lr_decay_start, 1)
        return max(0.0, 1.0 - (step - self.lr_decay_start) / span)

    def train_step(self) -> None:
        if self.lr_schedule != "constant":
            factor = self.lr_factor(self.step)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["initial_lr"] * factor
        batch = self.next_batch()
        for phase in self.phases:
            if phase.due(self.step):
                self.run_phase(phase, batch)
        self.step += 1

    def run(self, until: int) -> None:
        """Train until ``self.step == until`` (or a callback calls :meth:`request_stop`)."""
        for net in self.algorithm.nets.values():
            net.train()
        with active_shard(self.dist.shard):
            self._loop(until)

    def _loop(self, until: int) -> None:
        while self.step < until and not self._stop_agreed:
            self.train_step()
            flush = self.step % self.log_every == 0 or self.step == until
            if flush:
                self.flush_scalars()
            for cb in self.callbacks:
                hook = getattr(cb, "on_step_end", None)
                if hook is not None:
                    hook(self)
            if flush or self.dist.world == 1:
                # ranks agree on stopping where they meet anyway (the scalars' all-reduce)
                self._stop_agreed = self.dist.any(self._stop_requested, self.device)
        self.flush_scalars()
        for cb in self.callbacks:
            hook = getattr(cb, "on_train_end", None)
            if hook is not None:
                hook(self)

    def request_stop(self) -> None:
        self._stop_requested = True

    # -- scalars and the NaN guard --------------------------------------------------------
    def flush_scalars(self) -> dict[str, float]:
        """Read the accumulated means (one host sync), check them, reset the sums."""
        self.check_finite()
        if not self._sums:
            return self.last_scalars
        now = time.perf_counter()
        keys = sorted(self._sums)
        means = torch.stack([self._sums[k] / _at_least_one(self._counts[k]) for k in keys])
        means = self.dist.mean(means).tolist()  # averaged over ranks (one host sync)
        scalars = dict(zip(keys, means, strict=True))
        steps = self.step - self._step_last
        if steps > 0 and now > self._t_last:
            scalars["perf/steps_per_s"] = steps / (now - self._t_last)
        for name, opt in self.optimizers.items():
            scalars[f"lr/{name}"] = float(opt.param_groups[0]["lr"])
        if self.scaler is not None:
            scalars["perf/loss_scale"] = float(self.scaler.get_scale())
        self._sums, self._counts = {}, {}
        self._t_last, self._step_last = now, self.step
        self.last_scalars = scalars
        for cb in self.callbacks:
            hook = getattr(cb, "on_log", None)
            if hook is not None:
                hook(self, scalars)
        return scalars

    def check_finite(self, weights: bool = False, collective: bool = True) -> None:
        """Raise :class:`TrainingDiverged` if a loss (or, with ``weights``, a parameter)
        became NaN/inf since the last check.

        ``collective``: agree with the other data-parallel ranks (every rank must call);
        False for a check that rank 0 alone makes (keeping a best checkpoint)."""
        bad_here = self._bad
        what = [k for k, v in self._bad_names.items() if bool(v)]
        if self.scaler is not None and self.scaler.is_enabled() and self.scaler._scale is not None:
            scale = float(self.scaler.get_scale())
            if scale < _MIN_LOSS_SCALE:
                bad_here = torch.ones((), dtype=torch.bool, device=self.device)
                what = [
                    f"the fp16 losses or gradients (the loss scale fell to {scale:g}: they "
                    "overflow half precision even unscaled; train.precision=bf16 or fp32 "
                    "avoids this)"
                ]
        bad = self.dist.any(bad_here, self.device) if collective else bool(bad_here)
        if not bad and weights:
            for name, net in self.algorithm.nets.items():
                if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
                    bad, what = True, [f"weights of network {name!r}"]
                    break
        if bad:
            raise TrainingDiverged(
                f"Training diverged: {', '.join(what) or 'a logged value'} became NaN or "
                f"infinite at or before step {self.step}. Training stopped; no checkpoint "
                "was written after the problem. Lower the learning rates (optim.*.lr), add "
                "gradient clipping (--set train.grad_clip=1.0) or change the objective, "
                "then start again or resume from the last good checkpoint."
            )

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "nets": {k: v.state_dict() for k, v in self.algorithm.nets.items()},
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optim": {k: v.state_dict() for k, v in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "algorithm": self.algorithm.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, net in self.algorithm.nets.items():
            net.load_state_dict(state["nets"][k])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ValueError("checkpoint has no EMA copy but this run keeps one")
            self.ema.load_state_dict(state["ema"])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optim"][k])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.algorithm.load_state_dict(state.get("algorithm") or {})
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self._step_last = self.step

    # -- sampling for grids and export ----------------------------------------------------
    def sampling_nets(self) -> dict[str, nn.Module]:
        """The networks to sample with: EMA copies where kept, else the live ones.

        EMA copies with batch norms get statistics of their own weights first (when they
        are stale: :class:`~ganforge.engine.ema.EMA`): ``STANDING_BATCHES`` training-sized
        batches drawn through ``algorithm.sample`` from a fixed seed, so the training RNG
        is untouched and the result does not depend on when a run was resumed.
        """
        nets = dict(self.algorithm.nets)
        if self.ema is not None:
            nets.update(self.ema.copies)
            if self.ema.stale:
                g = torch.Generator(device=self.device).manual_seed(STANDING_SEED)
                n = self.sampler.batch_size
                # one process's draws (sampling may run on rank 0 alone): plain batch norm
                with torch.no_grad(), active_shard(Shard()):
                    self.ema.recalibrate(
                        lambda: self.algorithm.sample(n, generator=g, nets=nets),
                        STANDING_BATCHES,
                    )
        return nets

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> torch.Tensor:
        """``n`` samples from fixed noise (own generator: the training RNG is untouched)."""
        return self._sampled("sample", n, seed)

    @torch.no_grad()
    def panel(self, n: int, seed: int) -> list[torch.Tensor]:
        """Columns (input | output | target ...) of n fixed examples, for algorithms that
        translate images (``algorithm.panel``)."""
        return self._sampled("panel", n, seed)

    def _sampled(self, method: str, n: int, seed: int) -> Any:
        """``algorithm.<method>(n, generator=, nets=)`` with the sampling networks in eval
        mode (restored after) and a generator seeded with ``seed``."""
        nets = self.sampling_nets()
        modes = {k: net.training for k, net in nets.items()}
        for net in nets.values():
            net.eval()
        try:
            g = torch.Generator(device=self.device).manual_seed(seed)
            return getattr(self.algorithm, method)(n, generator=g, nets=nets)
        finally:
            for k, net in nets.items():
                net.train(modes[k])


#: Batches (of the training batch size) and seed of the EMA copies' standing batch-norm
#: statistics (:meth:`Trainer.sampling_nets`).
STANDING_BATCHES = 32
STANDING_SEED = 0x57A7

#: below this fp16 loss scale the scaler has halved it ~17 times from 2^16 without the
#: overflows stopping: the values overflow half precision even unscaled (divergence).
_MIN_LOSS_SCALE = 1.0


def _at_least_one(count: torch.Tensor | int) -> torch.Tensor | int:
    """A count of accumulated values; fp16 windows where every value overflowed count 1."""
    return count.clamp(min=1) if isinstance(count, torch.Tensor) else count


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 4 and x.is_floating_point():
        return x.contiguous(memory_format=torch.channels_last)
    return x
