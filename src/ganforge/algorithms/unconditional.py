"""The unconditional GAN: one generator, one critic, any objective.

Goodfellow et al. 2014, "Generative Adversarial Nets": G maps noise z ~ N(0, I) to
samples; the critic D is trained to tell real from generated samples and G to fool
it. Which game is played (minimax, non-saturating, Wasserstein, ...) is the
objective's business; this file only knows the alternating schedule: ``n_critic``
critic steps per generator step (Arjovsky et al. 2017 use 5 for WGAN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import Algorithm, LossOutput, Phase
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.nn.parallel import sharded
from ganforge.objectives.base import Objective, State, is_stateful, needs_samples
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS
from ganforge.techniques.packing import pack


@ALGORITHMS.register("unconditional", paper="Goodfellow et al. 2014, Generative Adversarial Nets")
class Unconditional(Algorithm):
    """Generator ``g`` and critic ``d`` trained in alternation on an adversarial objective.

    Args:
        nets: ``g`` maps z (N, latent_dim) -> x (N, *shape); ``d`` maps x -> CriticOutput.
        objective: the adversarial objective (``ganforge.objectives``).
        penalties: critic regularisers (``ganforge.penalties``), added to the critic loss.
        techniques: training techniques (``ganforge.techniques``), applied in list order
            through the hooks of :mod:`ganforge.techniques.base`: critic inputs (real
            and fake, both phases), critic targets, replayed fakes, the generator's
            loss, parameter terms and their state.
        latent_dim: dimension of z ~ N(0, I).
        n_critic: critic steps per generator step. The engine step counts critic steps,
            so ``train.steps`` critic updates make ``steps / n_critic`` generator updates.
        pack: PacGAN packing degree m (Lin et al. 2018, "PacGAN: the power of two samples
            in generative adversarial networks"): the critic judges m samples at once,
            all real or all fake, concatenated along channels (images) or features
            (vectors), so its input has m times the channels. A critic that sees m
            samples can tell that they are too alike, which penalises mode collapse.
            The batch size must be a multiple of m; 1 is the plain GAN.
    """

    networks: ClassVar[dict[str, str]] = {"g": "generator", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "g": ("g",)}
    ema_networks: ClassVar[tuple[str, ...]] = ("g",)

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 64,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        pack: Annotated[int, Field(ge=1, le=16)] = 1,
    ) -> None:
        super().__init__(nets)
        self.objective = objective
        self.penalties = list(penalties)
        self.techniques = list(techniques)
        hooks = ("critic_input", "critic_targets", "replay", "generator_loss", "parameter_loss")
        self.hooks = {h: [t for t in self.techniques if hasattr(t, h)] for h in hooks}
        self._check_techniques(objective)
        self.latent_dim = latent_dim
        self.n_critic = n_critic
        self.pack = pack
        # State of stateful terms (Fisher/Sobolev multipliers), keyed by term index:
        # "objective" or "penalty<i>". Updated after the critic's optimizer step.
        self.terms: dict[str, Any] = {"objective": objective}
        self.terms.update({f"penalty{i}": p for i, p in enumerate(self.penalties)})
        self.states: dict[str, State] = {
            k: {n: v.to(self.device) for n, v in t.initial_state().items()}
            for k, t in self.terms.items()
            if is_stateful(t)
        }
        self._pending: dict[str, State] = {}

    def _check_techniques(self, objective: Objective) -> None:
        """Refuse technique combinations that cannot work, before anything trains."""
        targets = self.hooks["critic_targets"]
        if targets and not hasattr(objective, "d_loss_with_targets"):
            names = ", ".join(sorted({_name(t) for t in targets}))
            raise ConfigError(
                f"{names} {'changes' if len(targets) == 1 else 'change'} the binary "
                "cross-entropy targets of the critic, but the "
                f"objective {_name(objective)!r} has no such targets. Use an objective "
                "with a BCE critic (minimax, ns, ml) or remove the technique."
            )
        for i, t in enumerate(targets):
            if getattr(t, "resets_targets", False) and i > 0:
                raise ConfigError(
                    f"{_name(t)} sets the critic targets afresh and would undo "
                    f"{_name(targets[i - 1])}: list it first in techniques."
                )

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        shape = tuple(data.shape)
        m = int(algo_kwargs.get("pack", 1))
        packed = (shape[0] * m, *shape[1:])  # PacGAN: m samples side by side in channels
        return {
            "g": {"latent_dim": algo_kwargs.get("latent_dim", 64), "out_shape": shape},
            "d": {"in_shape": packed},
        }

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.pack:
            raise ConfigError(
                f"algorithm.pack={self.pack} packs {self.pack} samples per critic input, so "
                f"train.batch_size must be a multiple of it (got {batch_size})."
            )

    #: True when ``generator_critic`` trains a look-ahead copy of the critic on (real, fake)
    #: (the unrolled GAN): the generator's phase then feeds it real critic inputs (packed).
    critic_lookahead: bool = False

    def phases(self) -> list[Phase]:
        return [Phase("d", "d"), Phase("g", "g", every=self.n_critic)]

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), shape (n, latent_dim).

        Training draws (no ``generator``) are sharded over data-parallel ranks
        (:func:`ganforge.engine.distributed.sharded`); seeded draws are not."""
        if generator is not None:
            return torch.randn(n, self.latent_dim, device=self.device, generator=generator)
        return sharded(lambda s: torch.randn(s, device=self.device), (n, self.latent_dim))

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, d = self.nets["g"], self.nets["d"]
        n = batch["real"].shape[0]
        # The critic only ever sees packed inputs (pack = 1: the samples themselves), and
        # so do the objective and the penalties (e.g. the gradient penalty interpolates
        # between packed real and packed fake inputs, as in the PacGAN paper's WGAN-GP).
        if phase == "d":
            real = self._critic_input(batch["real"], step)
            # G's parameters are frozen by the engine in this phase: no graph through G.
            fake = self.generate(g, n, batch).detach()
            for t in self.hooks["replay"]:
                fake = t.replay(fake, step)
            fake = self._critic_input(fake, step)
            loss, logs = self.critic_loss(self.bind(d, batch), real, fake, step, commit=True)
            return LossOutput(loss + self._parameter_terms("d", logs), logs)
        if phase == "g":
            fake = self._critic_input(self.generate(g, n, batch), step)
            real = batch["real"]  # transformed only when the generator's loss reads it
            need_real = self.objective.needs_real_for_g or bool(self.hooks["generator_loss"])
            if need_real or needs_samples(self.objective) or self.critic_lookahead:
                real = self._critic_input(real, step)
            critic = self.generator_critic(real, fake, step, batch)
            out_fake = critic(fake)
            out_real = critic(real) if need_real else None
            given = out_real if self.objective.needs_real_for_g else None
            loss = self._term("objective", "g_loss", out_fake, given, real, fake)
            for t in self.hooks["generator_loss"]:
                loss = t.generator_loss(loss, out_real, out_fake)
            logs: dict[str, torch.Tensor] = {}
            loss = loss + self.generator_extra(out_fake, batch, logs)
            return LossOutput(loss + self._parameter_terms("g", logs), logs)
        raise ValueError(f"unknown phase {phase!r}")

    def critic_loss(
        self,
        critic: Callable[[torch.Tensor], CriticOutput],
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
        *,
        commit: bool,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The critic's loss on critic inputs ``real`` and ``fake``: objective + penalties.

        ``critic`` is the critic network or a functional copy of it (unrolled GAN).
        ``commit``: record the stateful terms' next state (committed after the optimizer
        step); False for look-ahead losses that are not the critic's own step.
        """
        out_real, out_fake = critic(real), critic(fake)
        loss = self.critic_objective(out_real, out_fake, real, fake, step)
        logs = {
            "d/real": out_real.score.mean().detach(),
            "d/fake": out_fake.score.mean().detach(),
        }
        for i, pen in enumerate(self.penalties):
            key = f"penalty{i}"
            kw = {"state": self.states[key]} if is_stateful(pen) else {}
            term = pen(critic, real, fake, out_real=out_real, out_fake=out_fake, **kw)
            logs[f"penalty/{getattr(pen, 'name', i)}"] = term.detach()
            loss = loss + term
            if commit and is_stateful(pen):
                self._pending[key] = pen.next_state(
                    self.states[key], critic, real, fake, out_real=out_real, out_fake=out_fake
                )
        if commit and is_stateful(self.objective):
            self._pending["objective"] = self.objective.next_state(
                self.states["objective"], out_real, out_fake
            )
        return loss, logs

    def critic_objective(
        self,
        out_real: CriticOutput,
        out_fake: CriticOutput,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
    ) -> torch.Tensor:
        """The objective's critic term (with the techniques' targets when there are any)."""
        if self.hooks["critic_targets"]:
            # Original-GAN objectives with soft / flipped targets (label smoothing).
            t_real = torch.ones(len(out_real.score), device=out_real.score.device)
            t_fake = torch.zeros(len(out_fake.score), device=out_fake.score.device)
            for t in self.hooks["critic_targets"]:
                t_real, t_fake = t.critic_targets(t_real, t_fake, step)
            return self.objective.d_loss_with_targets(out_real, out_fake, t_real, t_fake)
        return self._term("objective", "d_loss", out_real, out_fake, real, fake)

    # -- hooks of the conditional variants (cgan, acgan): identity here -------------------
    def generate(self, g: nn.Module, n: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """n generated samples for a training batch: G(z), z ~ N(0, I)."""
        return g(self.noise(n))

    def bind(
        self, d: Callable[..., CriticOutput], batch: dict[str, torch.Tensor]
    ) -> Callable[[torch.Tensor], CriticOutput]:
        """The critic as a function of its input alone (conditional critics bind labels)."""
        return d

    def generator_extra(
        self, out_fake: CriticOutput, batch: dict[str, torch.Tensor], logs: dict[str, Any]
    ) -> torch.Tensor | float:
        """Extra generator terms of a variant (AC-GAN's class loss); 0 here."""
        return 0.0

    def generator_critic(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
        batch: dict[str, torch.Tensor] | None = None,
    ) -> Callable[[torch.Tensor], CriticOutput]:
        """The critic the generator's loss is computed against: the critic itself here;
        the unrolled GAN returns a look-ahead copy."""
        return self.bind(self.nets["d"], batch or {})

    def _parameter_terms(self, phase: str, logs: dict[str, torch.Tensor]) -> torch.Tensor | float:
        """Techniques' terms on the parameters this phase updates (historical averaging)."""
        total: torch.Tensor | float = 0.0
        for t in self.hooks["parameter_loss"]:
            for key in self.optimizers[phase]:
                term = t.parameter_loss(key, self.nets[key])
                if term is not None:
                    logs[f"technique/{_name(t)}/{key}"] = term.detach()
                    total = total + term
        return total

    def _critic_input(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """What the critic sees of samples x: techniques' transforms, then packing."""
        for t in self.hooks["critic_input"]:
            x = t.critic_input(x, step)
        return pack(x, self.pack)

    def _term(
        self,
        key: str,
        method: str,
        first: Any,
        second: Any,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
    ) -> torch.Tensor:
        """Call an objective's d_loss/g_loss with what it declares it needs."""
        term = self.terms[key]
        kw: dict[str, Any] = {}
        if needs_samples(term):
            kw.update(x_real=x_real, x_fake=x_fake)
        if is_stateful(term):
            kw["state"] = self.states[key]
        return getattr(term, method)(first, second, **kw)

    def after_step(self, phase: str, step: int) -> None:
        """After a step: techniques' parameter hooks; after the critic's step also commit
        multiplier updates and project the weights."""
        for t in self.techniques:
            hook = getattr(t, "after_step", None)
            if hook is not None:
                for key in self.optimizers[phase]:
                    hook(key, self.nets[key])
        if phase != "d":
            return
        self.states.update(self._pending)
        self._pending = {}
        for pen in self.penalties:
            project = getattr(pen, "after_step", None)
            if project is not None:
                project(self.nets["d"])

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"states": {k: dict(v) for k, v in self.states.items()}}
        techniques = {str(i): t.state_dict() for i, t in enumerate(self.techniques)}
        techniques = {k: v for k, v in techniques.items() if v}
        if techniques:
            out["techniques"] = techniques
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved_techniques = state.get("techniques", {})
        for i, t in enumerate(self.techniques):
            t.load_state_dict(saved_techniques.get(str(i), {}))
        saved = state.get("states", {})
        if set(saved) != set(self.states):
            raise ValueError(
                f"checkpoint has state for {sorted(saved)}, "
                f"this run's terms need {sorted(self.states)}"
            )
        self.states = {k: {n: t.to(self.device) for n, t in v.items()} for k, v in saved.items()}

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        nets: dict[str, nn.Module] | None = None,
    ) -> torch.Tensor:
        g = (nets or self.nets)["g"]
        return g(self.noise(n, generator))

    def export_spec(self) -> dict[str, Any]:
        return {"latent": {"distribution": "normal", "dim": self.latent_dim}}


def _name(obj: Any) -> str:
    """The registered name of a technique or objective (its class name otherwise)."""
    return getattr(obj, "registered_name", None) or getattr(obj, "name", None) or type(obj).__name__
