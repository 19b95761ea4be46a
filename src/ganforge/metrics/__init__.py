"""ganforge.metrics: feature extractors, streaming metrics and evaluation cards.

- :mod:`~ganforge.metrics.features`: the ``FEATURES`` registry (``inception-fid``,
  ``classifier:<dataset>``, ``identity``) and the one uint8 quantisation rule;
- :mod:`~ganforge.metrics.inception`: the FID Inception-v3 in PyTorch, TF1 resize;
- pure mathematics, one module per family: :mod:`~ganforge.metrics.frechet` (running
  moments, FID), :mod:`~ganforge.metrics.kid`, :mod:`~ganforge.metrics.inception_score`
  (IS, Mode Score), :mod:`~ganforge.metrics.prdc`, :mod:`~ganforge.metrics.ssim` (SSIM,
  MS-SSIM, PSNR), :mod:`~ganforge.metrics.birthday`, :mod:`~ganforge.metrics.modes`
  (Stacked MNIST), :mod:`~ganforge.metrics.toy` (2-D mode coverage);
- :mod:`~ganforge.metrics.library`: the ``METRICS`` registry, thin wrappers over those;
- :mod:`~ganforge.metrics.evaluate`: sources, streaming extraction, the reference
  statistics cache, :func:`~ganforge.metrics.evaluate.evaluate`;
- :mod:`~ganforge.metrics.cards`: evaluation cards and run comparisons;
- :mod:`~ganforge.metrics.classifier`: ganforge's LeNet with a background class.
"""

from ganforge.metrics.toy import mode_metrics

__all__ = ["mode_metrics"]
