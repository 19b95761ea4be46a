r"""Historical averaging: each player is pulled towards the average of its past weights.

Salimans et al. 2016, Improved Techniques for Training GANs, section 3.3. Each player's
cost gains

    weight * || theta - (1/t) sum_{i=1}^{t} theta[i] ||^2,

where theta[i] are the player's parameters at past step i. Gradient descent on a game can
orbit an equilibrium forever (the paper's example: min_x max_y xy); the pull towards the
running mean damps such cycles (a form of fictitious play). ``decay`` replaces the
uniform average by an exponential one (recent weights count more), which forgets a poor
start.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.registry import TECHNIQUES
from ganforge.techniques.base import Technique


def distance_to_average(net: nn.Module, average: dict[str, torch.Tensor]) -> torch.Tensor:
    """sum over parameters of || theta - average ||^2 (a scalar with theta's graph)."""
    total = torch.zeros((), device=next(iter(average.values())).device)
    for name, p in net.named_parameters():
        total = total + (p.float() - average[name]).pow(2).sum()
    return total


@TECHNIQUES.register(
    "historical-averaging",
    paper="Salimans et al. 2016, Improved Techniques for Training GANs (sec. 3.3)",
    summary="non-convergence (cycling): pull each player towards its average past weights",
)
class HistoricalAveraging(Technique):
    """An L2 pull of the generator's and/or the critic's weights to their past average.

    Args:
        weight: factor of the squared distance.
        players: which networks (``g``, ``d``) get the term.
        decay: None for the uniform average over all past steps (the paper); a number in
            (0, 1) for an exponential moving average with that decay.
    """

    targets = "non-convergence (oscillation around the equilibrium)"

    def __init__(
        self,
        weight: Annotated[float, Field(gt=0)] = 1e-3,
        players: list[Literal["g", "d"]] = ["g", "d"],  # noqa: B006  (validated copy)
        decay: Annotated[float, Field(gt=0, lt=1)] | None = None,
    ) -> None:
        if not players:
            raise ValueError("players is empty: give g, d or both.")
        self.weight, self.players, self.decay = weight, list(players), decay
        self.average: dict[str, dict[str, torch.Tensor]] = {}
        self.count: dict[str, int] = {}

    def _init(self, key: str, net: nn.Module) -> None:
        """Start the average at the current weights; keep it on the network's device."""
        if key not in self.average:
            self.average[key] = {n: p.detach().float().clone() for n, p in net.named_parameters()}
            self.count[key] = 1
            return
        for n, p in net.named_parameters():
            if self.average[key][n].device != p.device:  # loaded from a CPU checkpoint
                self.average[key][n] = self.average[key][n].to(p.device)

    def parameter_loss(self, key: str, net: nn.Module) -> torch.Tensor | None:
        """weight * ||theta - mean past theta||^2 for network ``key`` (None if not a player)."""
        if key not in self.players:
            return None
        self._init(key, net)
        return self.weight * distance_to_average(net, self.average[key])

    @torch.no_grad()
    def after_step(self, key: str, net: nn.Module) -> None:
        """Fold the updated parameters into the average."""
        if key not in self.players:
            return
        self._init(key, net)
        self.count[key] += 1
        rate = 1.0 / self.count[key] if self.decay is None else 1.0 - self.decay
        for name, p in net.named_parameters():
            self.average[key][name].lerp_(p.detach().float(), rate)

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "count": dict(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("average", {})
        self.average = {k: {n: t.clone() for n, t in v.items()} for k, v in saved.items()}
        self.count = {k: int(v) for k, v in state.get("count", {}).items()}
