"""Penalties: regularisers that call the critic (one file per family).

Importing this package registers every built-in penalty in
:data:`ganforge.registry.PENALTIES`:

- ``gradient-penalty``, ``dragan``, ``r1``, ``r2``, ``sobolev-constraint``:
  :mod:`ganforge.penalties.gradient` (Gulrajani et al. 2017; Kodali et al. 2017;
  Mescheder et al. 2018; Mroueh et al. 2018).
- ``weight-clip``: :mod:`ganforge.penalties.clip` (Arjovsky et al. 2017).

Each penalty implements :class:`Penalty` (``phase``, ``__call__``) and, where needed,
``after_step(critic)`` or the stateful protocol.
"""

from ganforge.penalties import clip, gradient
from ganforge.penalties.base import Penalty
from ganforge.penalties.clip import WeightClip, clip_parameters_
from ganforge.penalties.gradient import (
    DRAGANPenalty,
    GradientPenalty,
    R1Penalty,
    R2Penalty,
    SobolevConstraint,
    gradient_norm_penalty,
    input_gradient,
    interpolate,
)

__all__ = [
    "DRAGANPenalty",
    "GradientPenalty",
    "Penalty",
    "R1Penalty",
    "R2Penalty",
    "SobolevConstraint",
    "WeightClip",
    "clip",
    "clip_parameters_",
    "gradient",
    "gradient_norm_penalty",
    "input_gradient",
    "interpolate",
]
