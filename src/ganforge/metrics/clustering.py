"""Unsupervised classification accuracy: the best one-to-one mapping of clusters to labels.

Used for InfoGAN's categorical code (Chen et al. 2016, sec. 7.1: the code as a digit
classifier, 5% error on MNIST) and for any clustering of a labelled set: with cluster
ids p_i and true labels y_i, the accuracy is

    max over one-to-one maps m: clusters -> labels of (1/N) sum_i [m(p_i) = y_i],

found by the Hungarian algorithm on the contingency table (Kuhn 1955;
:func:`scipy.optimize.linear_sum_assignment`). Clusters left without a label (more
clusters than labels) count as errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment


def cluster_accuracy(pred: Any, labels: Any) -> tuple[float, dict[int, int]]:
    """Accuracy of cluster ids ``pred`` (N,) against ``labels`` (N,) under the best mapping.

    Returns:
        (accuracy in [0, 1], {cluster: label} for the matched clusters).
    """
    p = np.asarray(pred).astype(np.int64).ravel()
    y = np.asarray(labels).astype(np.int64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"pred and labels differ in length: {p.shape} vs {y.shape}.")
    if len(p) == 0:
        raise ValueError("cluster_accuracy needs at least one sample.")
    if p.min() < 0 or y.min() < 0:
        raise ValueError("cluster ids and labels must be non-negative integers.")
    table = np.zeros((p.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(table, (p, y), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(p)), {
        int(r): int(c) for r, c in zip(rows, cols, strict=True)
    }
