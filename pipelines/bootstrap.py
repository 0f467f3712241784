"""Bootstrap resampling of test examples, shared by the metric CIs and the paired significance test.

Both resample the n test examples with replacement B times. Instead of B index arrays, each
resample is a row of counts (how often each example was drawn), so a metric of all resamples
is a matrix product: per-class TP/FP/FN of B resamples are ``weights @ per_row_counts``. The
resamples come in chunks of at most ``max_cells`` counts so memory stays bounded on large
test sets.

Two numbers of resamples, for two purposes:

- :data:`CI_RESAMPLES` — the 95% CIs of accuracy and macro-F1 in every run's metrics.json
  (:func:`pipelines.metrics.bootstrap_cis`); percentile intervals settle with ~1,000.
- :data:`SIGNIFICANCE_RESAMPLES` — the paired bootstrap test of two runs
  (:func:`pipelines.stats.paired_bootstrap`); a p-value from B resamples cannot be smaller than
  1/(B+1), so it draws more.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CI_RESAMPLES = 1000
SIGNIFICANCE_RESAMPLES = 2000
CI_LEVEL = 0.95
SEED = 0


def resample_weights(n: int, n_resamples: int, rng: np.random.Generator,
                     max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """Yield (k × n) float matrices of draw counts, k ≤ max_cells / n, n_resamples rows in all."""
    chunk = max(1, min(n_resamples, max_cells // n))
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        yield np.bincount((idx + np.arange(k)[:, None] * n).ravel(), minlength=k * n).reshape(k, n).astype(np.float64)


def macro_f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Mean over the last axis (labels) of per-label F1 = 2TP / (2TP + FP + FN); 0 where undefined."""
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp, dtype=np.float64), where=denom > 0).mean(axis=-1)


def confusion_parts(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row, per-label TP, FP and FN (n × L floats) of indicator matrices: weights @ these = counts."""
    gold, pred = np.asarray(gold, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    return gold * pred, (1 - gold) * pred, gold * (1 - pred)


def percentile_interval(values: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of resampled values."""
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)
