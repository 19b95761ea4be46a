"""Networks: one file per architecture family, generator and critic together.

Importing this package registers every built-in network in
:data:`ganforge.registry.NETS`:

- ``mlp-g`` / ``mlp-d``: :mod:`ganforge.nets.mlp` (Goodfellow et al. 2014).
- ``dcgan-g`` / ``dcgan-d``: :mod:`ganforge.nets.dcgan` (Radford et al. 2016).

Generators map z (N, latent_dim) -> (N, *out_shape); critics map x (N, *in_shape) ->
:class:`CriticOutput` (score (N,), features (N, F), aux).
"""

from __future__ import annotations

from ganforge.nets import dcgan, mlp
from ganforge.nets.base import CriticOutput
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "CriticOutput",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "dcgan",
    "mlp",
]
