"""Exponential moving average of network weights.

Averaging the generator's weights over training (Yazici et al. 2019, "The unusual
effectiveness of averaging in GAN training"; Karras et al. 2018) damps the rotation
around the equilibrium that simultaneous gradient play produces, and usually lowers
FID. The copy is what sampling and evaluation use.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """EMA copies of some networks: ``p_ema <- decay * p_ema + (1 - decay) * p``.

    Buffers (batch-norm running statistics, spectral-norm power-iteration vectors) are
    copied, not averaged. Until step ``start`` the copy follows the weights exactly
    (averaging random initial weights into the copy would only bias it).
    """

    def __init__(self, nets: dict[str, nn.Module], decay: float, start: int = 0) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.start = decay, start
        self.copies: dict[str, nn.Module] = {}
        for name, net in nets.items():
            twin = copy.deepcopy(net).eval()
            twin.requires_grad_(False)
            self.copies[name] = twin

    @torch.no_grad()
    def update(self, nets: dict[str, nn.Module], step: int) -> None:
        beta = 0.0 if step < self.start else self.decay
        for name, twin in self.copies.items():
            src = nets[name]
            ema_p = [p for p in twin.parameters()]
            cur_p = [p.detach() for p in src.parameters()]
            if beta == 0.0:
                torch._foreach_copy_(ema_p, cur_p)
            else:
                torch._foreach_lerp_(ema_p, cur_p, 1.0 - beta)
            for b_ema, b in zip(twin.buffers(), src.buffers(), strict=True):
                b_ema.copy_(b)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: twin.state_dict() for name, twin in self.copies.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, twin in self.copies.items():
            twin.load_state_dict(state[name])
