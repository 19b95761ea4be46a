"""Training techniques: small, pure building blocks and the registered ``TECHNIQUES``.

Registered (one line each in a recipe's ``techniques`` list; hooks in
:mod:`ganforge.techniques.base`):

- :mod:`ganforge.techniques.inputs`: critic-input techniques (``instance-noise``,
  ``diffaugment``);
- :mod:`ganforge.techniques.labels`: ``label-smoothing`` and ``label-flip``;
- :mod:`ganforge.techniques.feature_matching`: ``feature-matching``;
- :mod:`ganforge.techniques.replay`: ``replay`` (experience replay, the image pool);
- :mod:`ganforge.techniques.history`: ``historical-averaging``.

Techniques that are options elsewhere (packing, unrolling, minibatch layers, spectral
norm, dropout, TTUR, EMA) are listed in :data:`ganforge.techniques.base.OPTIONS`.

Building blocks:

- :mod:`ganforge.techniques.packing`: PacGAN packing of m samples into one critic input
  (Lin et al. 2018).
- :mod:`ganforge.techniques.labels`: smoothed / flipped targets for the original-GAN
  critic loss (Salimans et al. 2016; the "ganhacks" list) and BCE with soft targets.
- :mod:`ganforge.techniques.noise`: instance noise and its annealing schedule
  (Sønderby et al. 2016; Arjovsky & Bottou 2017).
- :mod:`ganforge.techniques.diffaugment`: differentiable augmentation of real and fake
  images (Zhao et al. 2020).

Batch-aware critic layers (minibatch std-dev, minibatch discrimination, maxout) live in
:mod:`ganforge.nn.minibatch`.
"""

from ganforge.techniques import (  # noqa: F401  (registers the techniques)
    feature_matching,
    history,
    inputs,
    labels,
    replay,
)
