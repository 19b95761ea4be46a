"""Experience replay: the critic also trains on fakes from earlier generators.

A critic that only sees the current generator's samples forgets what earlier generators
produced, so the generator can return to a mode it left and the pair oscillates between
modes instead of covering them. Showing the critic a mix of current and past fakes
keeps it penalising old modes (Pfau & Vinyals 2016, Connecting Generative Adversarial
Networks and Actor-Critic Methods, sec. 4: replay as in deep RL; Shrivastava et al.
2017, Learning from Simulated and Unsupervised Images through Adversarial Training,
sec. 2.3: a history of refined images).

:class:`ReplayBuffer` is the pool rule that CycleGAN (Zhu et al. 2017) also uses: until
the buffer is full, every new fake is stored and used as is; after that, each fake is,
with probability ``p``, swapped for a uniformly chosen stored one (which it replaces in
the buffer), and otherwise used as is. About a fraction ``p`` of each critic batch is
then history.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field

from ganforge.registry import TECHNIQUES
from ganforge.techniques.base import Technique


class ReplayBuffer:
    """A fixed-size pool of past samples (detached), saved with the training state.

    Args:
        size: how many past samples are kept.
        p: probability that a sample is swapped for a stored one once the pool is full.

    Randomness: torch's global generator of the samples' device (saved in checkpoints).
    """

    def __init__(self, size: int, p: float = 0.5) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}.")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability, got {p}.")
        self.size, self.p = size, p
        self.items: torch.Tensor | None = None  # (count, *S)

    def __len__(self) -> int:
        return 0 if self.items is None else len(self.items)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, *S) new samples -> (N, *S) the batch to use (x with some swapped)."""
        x = x.detach()
        out = x.clone()
        if self.items is not None and self.items.device != x.device:  # loaded on the CPU
            self.items = self.items.to(x.device)
        n_fill = min(self.size - len(self), len(x))
        if n_fill > 0:  # filling up: store as is, use as is
            new = x[:n_fill].clone()
            self.items = new if self.items is None else torch.cat([self.items, new])
        rest = torch.arange(n_fill, len(x), device=x.device)
        if len(rest) and self.items is not None:
            swap = rest[torch.rand(len(rest), device=x.device) < self.p]
            if len(swap):
                slots = torch.randint(len(self.items), (len(swap),), device=x.device)
                # sequentially, so that two swaps drawing one slot behave like the
                # per-sample rule (the second gets the first's stored sample)
                for i, s in zip(swap.tolist(), slots.tolist(), strict=True):
                    out[i] = self.items[s]
                    self.items[s] = x[i]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {} if self.items is None else {"items": self.items}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        items = state.get("items")
        if items is not None and len(items) > self.size:
            raise ValueError(f"saved pool holds {len(items)} samples, more than size={self.size}")
        self.items = None if items is None else items.clone()


@TECHNIQUES.register(
    "replay",
    paper="Pfau & Vinyals 2016; Shrivastava et al. 2017 (history of generated samples)",
    summary="mode hopping: the critic also trains on fakes of earlier generators",
)
class ExperienceReplay(Technique):
    """The critic's fake batch mixes current fakes with fakes of earlier generators.

    Args:
        size: samples kept in the pool (CycleGAN uses 50 images).
        p: probability that a fake is swapped for a stored one (about the fraction of
            history in each critic batch once the pool is full).
    """

    targets = "mode hopping / oscillation (critic forgets old fakes)"

    def __init__(
        self,
        size: Annotated[int, Field(ge=1, le=1_000_000)] = 1000,
        p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5,
    ) -> None:
        self.buffer = ReplayBuffer(size, p)

    def replay(self, fake: torch.Tensor, step: int) -> torch.Tensor:
        return self.buffer(fake)

    def state_dict(self) -> dict[str, Any]:
        return self.buffer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer.load_state_dict(state)
