"""ganforge.metrics: sample-quality metrics.

- :mod:`~ganforge.metrics.toy`: :func:`mode_metrics` for 2-D Gaussian mixtures (modes
  covered, % high-quality samples, reverse KL over modes; the VEEGAN / PacGAN protocol);
- :mod:`~ganforge.metrics.classifier`: a digits classifier with a background class.
"""

from ganforge.metrics.toy import mode_metrics

__all__ = ["mode_metrics"]
