r"""SRGAN: photo-realistic single-image super-resolution with an adversarial loss.

Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network. A generator G (SRResNet) maps a low-resolution image I^LR
(N, C, H, W) to I^SR = G(I^LR) (N, C, rH, rW), r the scale; a critic D judges
high-resolution images. G minimises the perceptual loss (eq. 3)

    l^SR = l^SR_X + 10^-3 l^SR_Gen,
    l^SR_MSE     = 1/(r^2 W H) sum_{x,y} (I^HR_{x,y} - G(I^LR)_{x,y})^2,                  (eq. 4)
    l^SR_VGG/i.j = 1/(W_ij H_ij) sum_{x,y} (phi_ij(I^HR)_{x,y} - phi_ij(G(I^LR))_{x,y})^2, (eq. 5)
    l^SR_Gen     = sum_n -log D(G(I^LR_n)),                                              (eq. 6)

with l^SR_X the content loss (pixel MSE: "SRResNet-MSE" / "SRGAN-MSE"; or the distance
of VGG19 feature maps phi_ij, the j-th convolution (after activation) before the i-th
max-pool: "VGG54"), and D trained on min_G max_D E[log D(I^HR)] + E[log(1 - D(G(I^LR)))]
(eq. 2): the ``ns`` objective (the objective is the recipe's; others work too). Every
sum is a mean here (over elements, and over the batch for eq. 6), as implementations
compute them. The paper rescales VGG feature maps by 1/12.75 so that the VGG loss is on
the scale of the MSE (a factor ~0.006 on eq. 5): ``content_weight``.

Training: SRResNet is first trained with the MSE alone (10^6 updates in the paper) and
initialises the GAN ("to avoid undesired local optima"), which then trains 10^5 updates
at learning rate 1e-4 and 10^5 at 1e-5. Here the pre-training is the phase ``pre``
(steps 0..``pretrain_steps``-1, optimizer ``g``, pixel MSE), followed by the phases ``d``
and ``g`` (from step ``pretrain_steps``).

Content networks (``content``): VGG19 is not available in ganforge (no torchvision, no
ImageNet VGG weights), so a feature content loss uses ganforge's own networks, frozen
(eval mode, no parameter gradients, never in ``nets``: not saved, not stepped) and
differentiable with respect to their input (images in [-1, 1], with no uint8
quantisation, unlike the metric path):

- ``classifier:<dataset>`` (``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``):
  ganforge's LeNet for that dataset
  (:func:`ganforge.metrics.classifier.dataset_classifier`: loaded from the cache, or, the
  first time, trained there, which needs the dataset (``content_root``) and takes a few
  minutes on a CPU for MNIST, about 15 for CIFAR-10). Layers (``content_layer``):
  ``conv1``, ``conv2`` (default: the VGG54 analogue, the last convolution after its ReLU,
  before the pool) and ``fc1`` (the 128-d features of the metrics). Its images must have
  the classifier's channels.
- ``inception`` (or ``inception-fid``): the FID Inception-v3
  (:func:`ganforge.metrics.inception.load_inception`: ``$GANFORGE_INCEPTION_WEIGHTS``,
  the cache, or a download), with its own preprocessing kept differentiable: [-1, 1] ->
  [0, 255], grey -> RGB, TF1 bilinear resize to 299, (x - 128) / 128. Layers ``a3``
  (288 x 35 x 35), ``c4`` (768 x 17 x 17), ``e2`` (default, 2048 x 8 x 8, the last map
  before the pool) and ``pool`` (2048). Costly: a 299 x 299 pass per image and step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, Field
from torch import nn

from ganforge.algorithms.base import LossOutput, Phase
from ganforge.algorithms.translation import (
    Translation,
    critic_terms,
    generator_adversarial,
    score_logs,
)
from ganforge.errors import ConfigError
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS

Features = Callable[[torch.Tensor], torch.Tensor]

#: Content networks a spec may name, with their layers (the first is the default).
CONTENT_LAYERS: dict[str, tuple[str, ...]] = {
    "classifier": ("conv2", "conv1", "fc1"),
    "inception": ("e2", "a3", "c4", "pool"),
}


def content_loss(features: Features | None, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The content loss l^SR_X: mean (phi(fake) - phi(real))^2 over every element.

    Args:
        features: phi, images (N, C, H, W) -> features (N, ...); None = the pixels
            themselves (l^SR_MSE, eq. 4).
        fake: G(I^LR) (N, C, rH, rW), differentiable.
        real: I^HR, same shape; its features are a constant (no gradient).
    """
    if features is None:
        return F.mse_loss(fake, real)
    with torch.no_grad():
        target = features(real)
    return F.mse_loss(features(fake), target)


def parse_content(spec: str, layer: str | None = None) -> tuple[str, str, str | None]:
    """Check a ``content`` spec: ``(kind, argument, layer)`` with kind ``mse``,
    ``classifier`` or ``inception`` and the layer resolved (None for ``mse``).

    Raises:
        ConfigError: an unknown network, dataset or layer, saying what is available.
    """
    from ganforge.metrics.classifier import CLASSIFIER_DATASETS

    kind, _, arg = spec.partition(":")
    if kind == "inception-fid":
        kind = "inception"
    datasets = ", ".join(f"classifier:{d}" for d in CLASSIFIER_DATASETS)
    if spec == "mse":
        if layer is not None:
            raise ConfigError(
                "content_layer picks a layer of a feature network; content='mse' is the "
                "pixel loss. Drop content_layer or set content to a network."
            )
        return "mse", "", None
    if kind.startswith("vgg"):
        raise ConfigError(
            f"content={spec!r}: the paper's VGG19 features are not available in ganforge "
            f"(no torchvision, no ImageNet VGG weights). Use 'mse', 'inception' or "
            f"{datasets}."
        )
    if kind == "classifier" and arg not in CLASSIFIER_DATASETS:
        raise ConfigError(
            f"content={spec!r}: ganforge has LeNet classifiers for {datasets} only; "
            "for other data use 'inception' or 'mse'."
        )
    if kind not in CONTENT_LAYERS or (kind == "inception" and arg):
        raise ConfigError(
            f"content must be 'mse' (pixels), 'inception' or {datasets}; got {spec!r}."
        )
    layers = CONTENT_LAYERS[kind]
    if layer is not None and layer not in layers:
        raise ConfigError(
            f"content_layer={layer!r} is not a layer of {spec!r}; choose one of "
            f"{', '.join(layers)} (default {layers[0]})."
        )
    return kind, arg, layer or layers[0]


def _checked_content(spec: str) -> str:
    try:
        parse_content(spec)
    except ConfigError as e:  # pydantic reports ValueErrors at config load
        raise ValueError(str(e)) from None
    return spec


ContentSpec = Annotated[str, AfterValidator(_checked_content)]


class LeNetContent(nn.Module):
    """phi from ganforge's :class:`~ganforge.metrics.classifier.LeNet`, differentiable.

    Images (N, C, H, W) in [-1, 1] (C = the classifier's channels, any H, W >= 4) ->
    ``conv1``: ReLU(conv1(x)) (N, w, H, W); ``conv2``: ReLU(conv2(maxpool(.)))
    (N, 2w, H/2, W/2); ``fc1``: the 128-d ``LeNet.features`` (N, 128).
    """

    def __init__(self, net: nn.Module, layer: str = "conv2") -> None:
        super().__init__()
        if layer not in CONTENT_LAYERS["classifier"]:
            raise ConfigError(f"LeNet content layer must be one of {CONTENT_LAYERS['classifier']}")
        self.net, self.layer = net, layer

    @property
    def in_channels(self) -> int:
        return int(self.net.in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.net
        h = F.relu(m.conv1(x))
        if self.layer == "conv1":
            return h
        h = F.relu(m.conv2(F.max_pool2d(h, 2)))
        if self.layer == "conv2":
            return h
        h = F.adaptive_avg_pool2d(F.max_pool2d(h, 2), 4).flatten(1)
        return F.relu(m.fc1(h))  # = LeNet.features(x)


class InceptionContent(nn.Module):
    """phi from the FID Inception-v3 (:class:`~ganforge.metrics.inception.InceptionV3FID`),
    differentiable: images (N, 1 or 3, H, W) in [-1, 1] -> the map after block ``layer``
    (``a3``: (N, 288, 35, 35), ``c4``: (N, 768, 17, 17), ``e2``: (N, 2048, 8, 8)) or the
    pooled features (``pool``: (N, 2048)).

    The preprocessing is the metric path's (grey -> RGB, TF1 bilinear resize to 299 on
    [0, 255] values, (x - 128) / 128) without the uint8 quantisation.
    """

    def __init__(self, net: nn.Module, layer: str = "e2") -> None:
        super().__init__()
        if layer not in CONTENT_LAYERS["inception"]:
            raise ConfigError(
                f"Inception content layer must be one of {CONTENT_LAYERS['inception']}"
            )
        self.net, self.layer = net, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ganforge.metrics.inception import INPUT_SIZE, tf1_resize_bilinear

        m = self.net
        pixels = (x.float() + 1.0) * 127.5  # [-1, 1] -> [0, 255], not rounded
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        h = (tf1_resize_bilinear(pixels, (INPUT_SIZE, INPUT_SIZE)) - 128.0) / 128.0
        if m.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        # InceptionV3FID.forward_normalized, stopping at ``layer``.
        h = F.max_pool2d(m.stem3(m.stem2(m.stem1(h))), 3, stride=2)
        h = F.max_pool2d(m.stem5(m.stem4(h)), 3, stride=2)
        for name in ("a1", "a2", "a3", "b", "c1", "c2", "c3", "c4", "d", "e1", "e2"):
            h = getattr(m, name)(h)
            if name == self.layer:
                return h
        return F.avg_pool2d(h, h.shape[-2:]).flatten(1)


def content_network(
    spec: str,
    layer: str | None = None,
    device: str | torch.device = "cpu",
    root: str | None = None,
) -> nn.Module | None:
    """The frozen phi of a ``content`` spec (None for ``mse``), on ``device``.

    Loads through the existing loaders: ``classifier:<dataset>`` ->
    :func:`~ganforge.metrics.classifier.dataset_classifier` (cached; trained on first use,
    on the copy of the dataset at ``root``, or the cache / a download when None),
    ``inception`` -> :func:`~ganforge.metrics.inception.load_inception`.
    """
    kind, arg, layer = parse_content(spec, layer)
    if kind == "mse":
        return None
    net: nn.Module
    if kind == "classifier":
        from ganforge.metrics.classifier import dataset_classifier

        net = LeNetContent(dataset_classifier(arg, root=root), layer or "conv2")
    else:
        from ganforge.metrics.inception import load_inception

        net = InceptionContent(load_inception(None), layer or "e2")
    return net.eval().requires_grad_(False).to(device)


@ALGORITHMS.register(
    "srgan",
    paper="Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a "
    "Generative Adversarial Network",
)
class SRGAN(Translation):
    """Super-resolution low -> high: generator ``g`` (SRResNet), critic ``d``.

    Args:
        nets: ``g`` maps low-resolution images (N, C, H, W) to (N, C, rH, rW)
            (``srresnet-g``); ``d`` maps high-resolution images to CriticOutput
            (``srgan-d``).
        objective, penalties: the adversarial game (``ns`` in the paper) and critic
            regularisers.
        content: the content loss l^SR_X: ``mse`` (pixels, the default), or a frozen
            feature network ``classifier:<dataset>`` / ``inception`` (see the module
            docstring; VGG is not available).
        content_layer: the layer of the content network (None: its default, the VGG54
            analogue).
        content_weight: factor on the content loss (1; the paper's VGG losses: 1/12.75^2).
        content_root: a local copy of the content classifier's dataset (as ``data.root``),
            read only when that classifier is not cached yet and must be trained; None:
            the cache or a download.
        adv_weight: factor on the generator's adversarial term (1e-3; 0 = SRResNet: the
            critic is not trained).
        pixel_weight: factor on an extra pixel MSE in the adversarial phase (0).
        pretrain_steps: steps of MSE-only pre-training (SRResNet) before the GAN phases
            (0: none; the paper: 10^6).

    Batches: ``low`` (N, C, H, W) and ``real`` = ``high`` (N, C, rH, rW).
    :attr:`content_net` holds phi (None for ``mse``); :meth:`set_content_network`
    replaces it (tests, the Python API).
    """

    networks: ClassVar[dict[str, str]] = {"g": "generator", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "g": ("g",)}
    source_key: ClassVar[str] = "low"

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        content: ContentSpec = "mse",
        content_layer: str | None = None,
        content_weight: Annotated[float, Field(ge=0)] = 1.0,
        adv_weight: Annotated[float, Field(ge=0)] = 1e-3,
        pixel_weight: Annotated[float, Field(ge=0)] = 0.0,
        pretrain_steps: Annotated[int, Field(ge=0)] = 0,
        content_root: str | None = None,
    ) -> None:
        super().__init__(nets, objective, penalties, techniques)
        parse_content(content, content_layer)  # refuse a bad spec before loading anything
        self.content, self.content_layer = content, content_layer
        self.content_weight, self.adv_weight = content_weight, adv_weight
        self.pixel_weight, self.pretrain_steps = pixel_weight, pretrain_steps
        self.content_net: nn.Module | None = content_network(
            content, content_layer, self.device, content_root
        )

    def set_content_network(self, net: nn.Module | None) -> None:
        """Use ``net`` as phi (None: pixels), frozen: eval mode, no parameter gradients."""
        self.content_net = None if net is None else net.eval().requires_grad_(False)

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        if "low" not in data.tensors:
            raise ConfigError(_needs_low(data))
        low, high = tuple(data.tensors["low"].shape[1:]), tuple(data.shape)
        scale = _scale(low, high)
        return {
            "g": {
                "in_channels": low[0],
                "out_channels": high[0],
                "in_shape": low,
                "out_shape": high,
                "scale": scale,
            },
            "d": {"in_channels": high[0], "in_shape": high},
        }

    def attach_data(self, dataset: Any) -> None:
        """Keep the dataset (see :class:`Translation`); it must hold ``low`` and ``real``
        images an integer scale apart, of channels the generator and phi take."""
        if "low" not in dataset.tensors:
            raise ConfigError(_needs_low(dataset))
        super().attach_data(dataset)
        low, high = tuple(dataset.tensors["low"].shape[1:]), tuple(dataset.shape)
        scale = _scale(low, high)
        g_scale = getattr(self.nets["g"], "scale", None)
        if g_scale is not None and int(g_scale) != scale:
            raise ConfigError(
                f"nets.g upsamples x{g_scale} but {dataset.name!r} pairs {low} with {high} "
                f"(x{scale}). Set nets.g.scale={scale} in the recipe."
            )
        want = getattr(self.content_net, "in_channels", None)
        if want is not None and want != high[0]:
            raise ConfigError(
                f"content={self.content!r} takes {want}-channel images but "
                f"{dataset.name!r} has {high[0]}. Use content='inception' or 'mse'."
            )

    def phases(self) -> list[Phase]:
        p = self.pretrain_steps
        phases = [Phase("pre", "g", stop=p)] if p > 0 else []
        if self.adv_weight > 0:
            phases.append(Phase("d", "d", start=p))
        phases.append(Phase("g", "g", start=p))
        return phases

    def _features(self, like: torch.Tensor) -> nn.Module | None:
        net = self.content_net
        if net is not None:
            p = next(net.parameters(), None)
            if p is not None and p.device != like.device:
                net.to(like.device)
        return net

    def translate(
        self, batch: dict[str, torch.Tensor], nets: dict[str, nn.Module] | None = None
    ) -> torch.Tensor:
        """G(I^LR): (N, C, rH, rW)."""
        return (nets or self.nets)["g"](batch["low"])

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, d = self.nets["g"], self.nets["d"]
        low, high = batch["low"], batch["real"]
        if phase == "pre":  # SRResNet-MSE, eq. 4
            mse = F.mse_loss(g(low), high)
            return LossOutput(mse, {"g/mse": mse.detach()})
        if phase == "d":
            with torch.no_grad():
                fake = g(low)
            loss, out_real, out_fake = critic_terms(self.objective, self.penalties, d, high, fake)
            return LossOutput(loss, score_logs(out_real, out_fake))
        if phase == "g":
            fake = g(low)
            mse = F.mse_loss(fake, high)
            phi = self._features(fake)
            content = mse if phi is None else content_loss(phi, fake, high)
            logs = {"g/content": content.detach(), "g/mse": mse.detach()}
            loss = self.content_weight * content
            if self.pixel_weight > 0:
                loss = loss + self.pixel_weight * mse
            if self.adv_weight > 0:
                adv = generator_adversarial(self.objective, d, fake, high)
                logs["g/adv"] = adv.detach()
                loss = loss + self.adv_weight * adv
            return LossOutput(loss, logs)
        raise ValueError(f"unknown phase {phase!r}")

    def export_spec(self) -> dict[str, Any]:
        """The translate spec with the upsampling ``scale`` r."""
        spec = super().export_spec()
        t = spec["translate"]
        if "in_shape" in t:
            t["scale"] = _scale(tuple(t["in_shape"]), tuple(t["out_shape"]))
        elif getattr(self.nets["g"], "scale", None) is not None:
            t["scale"] = int(self.nets["g"].scale)
        return spec


def _needs_low(data: Any) -> str:
    return (
        f"srgan needs a super-resolution dataset with `low` (input) and `real` (high-"
        f"resolution) images, but {data.name!r} has {sorted(data.tensors)}. Use sr-cifar10 "
        "or sr-photos."
    )


def _scale(low: tuple[int, ...], high: tuple[int, ...]) -> int:
    """The integer scale r with high = (C, rH, rW) for low = (C, H, W)."""
    if len(low) != 3 or len(high) != 3 or low[1] == 0 or low[2] == 0:
        raise ConfigError(f"srgan needs images (C, H, W); got low {low} and high {high}.")
    r = high[1] // low[1]
    if r < 1 or (low[1] * r, low[2] * r) != tuple(high[1:]):
        raise ConfigError(
            f"srgan needs high-resolution images an integer scale r times the low ones; got "
            f"low {low} and high {high}."
        )
    return r
