"""Networks: one file per architecture family, generator and critic together.

Importing this package registers every built-in network in
:data:`ganforge.registry.NETS`:

- ``mlp-g`` / ``mlp-d``: :mod:`ganforge.nets.mlp` (Goodfellow et al. 2014).
- ``dcgan-g`` / ``dcgan-d``: :mod:`ganforge.nets.dcgan` (Radford et al. 2016).
- ``unet-g``: :mod:`ganforge.nets.unet` (pix2pix U-Net, Isola et al. 2017).
- ``patchgan-d``: :mod:`ganforge.nets.patchgan` (PatchGAN / PixelGAN / ImageGAN, Isola
  et al. 2017).
- ``resnet-translator``: :mod:`ganforge.nets.translator` (CycleGAN, Zhu et al. 2017;
  Johnson et al. 2016).
- ``discogan-g`` / ``discogan-d``: :mod:`ganforge.nets.discogan` (Kim et al. 2017).
- ``infogan-g`` / ``infogan-d``: :mod:`ganforge.nets.infogan` (InfoGAN's MNIST nets, Chen et al. 2016).
- ``stargan-g`` / ``stargan-d``: :mod:`ganforge.nets.stargan` (Choi et al. 2018).
- ``srresnet-g`` / ``srgan-d``: :mod:`ganforge.nets.srresnet` (Ledig et al. 2017).
- ``segan-s`` / ``segan-c``: :mod:`ganforge.nets.segan` (Xue et al. 2018).
- ``resnet-g`` / ``resnet-d``: :mod:`ganforge.nets.resnet` (SNGAN ResNet, Miyato et al. 2018).

Generators map z (N, latent_dim) -> (N, *out_shape); critics map x (N, *in_shape) ->
:class:`CriticOutput` (score (N,) or a patch map (N, h, w), features (N, F), aux).
Translators map images to images: x (N, C_in, H, W) [, labels] -> (N, C_out, H', W')
(H' = H, or scale H for super-resolution), in [-1, 1] (segmentation masks: [0, 1]).
"""

from __future__ import annotations

from ganforge.nets import (
    dcgan,
    discogan,
    infogan,
    mlp,
    patchgan,
    resnet,
    segan,
    srresnet,
    stargan,
    translator,
    unet,
)
from ganforge.nets.base import CriticOutput
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.discogan import DiscoGANDiscriminator, DiscoGANGenerator
from ganforge.nets.infogan import InfoGANDiscriminator, InfoGANGenerator
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator
from ganforge.nets.patchgan import PatchGANDiscriminator, receptive_field
from ganforge.nets.resnet import ResNetDiscriminator, ResNetGenerator
from ganforge.nets.segan import SegANCritic, SegANSegmentor
from ganforge.nets.srresnet import SRGANDiscriminator, SRResNetGenerator
from ganforge.nets.stargan import StarGANDiscriminator, StarGANGenerator
from ganforge.nets.translator import ResNetTranslator
from ganforge.nets.unet import UNetGenerator

__all__ = [
    "CriticOutput",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DiscoGANDiscriminator",
    "DiscoGANGenerator",
    "InfoGANDiscriminator",
    "InfoGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchGANDiscriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "ResNetTranslator",
    "SRGANDiscriminator",
    "SRResNetGenerator",
    "SegANCritic",
    "SegANSegmentor",
    "StarGANDiscriminator",
    "StarGANGenerator",
    "UNetGenerator",
    "dcgan",
    "discogan",
    "infogan",
    "mlp",
    "patchgan",
    "receptive_field",
    "resnet",
    "segan",
    "srresnet",
    "stargan",
    "translator",
    "unet",
]
