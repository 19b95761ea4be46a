"""Training techniques: small, pure building blocks and the registered ``TECHNIQUES``.

- :mod:`ganforge.techniques.inputs`: registered critic-input techniques
  (``instance-noise``, ``diffaugment``), listed in a recipe's ``techniques``.

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

from ganforge.techniques import inputs  # noqa: F401  (registers the techniques)
