"""Classification metrics for every run kind, computed the same way from (gold, probabilities).

One function, :func:`compute_metrics`, so a fine-tuned encoder and an LLM baseline are scored
by identical code on the identical test split. Conventions that matter for comparisons:

- Macro/weighted/micro F1 are taken over *all* labels of the dataset (``labels=range(L)``),
  so a class the model never predicts counts as F1 0 instead of silently dropping out.
- ``invalid`` (LLM answers that map to no label) rows count as wrong and are never mapped
  to a class: in single-label they are a miss for their gold class and a false positive for
  none; in multi-label they predict the empty set and never count as an exact match.
- ROC-AUC / PR-AUC use the scores as given (LLM probabilities need not be calibrated);
  binary uses the score of ``labels[1]``, multi-class and multi-label average one-vs-rest
  over the labels where both gold classes occur. Undefined → ``None``, never 0.5 or 0.
- 95% bootstrap CIs (percentile, seeded) for accuracy and macro-F1, vectorised: all
  resamples are per-class count matrices, so 1,000 resamples take milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    hamming_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from .bootstrap import (
    CI_LEVEL,
    CI_RESAMPLES,
    SEED,
    confusion_parts,
    macro_f1_from_counts,
    percentile_interval,
    resample_weights,
)

log = logging.getLogger(__name__)

# metrics.json keeps the confusion matrix up to this many classes: it grows as L², and past a few
# dozen classes no one reads it (10,000 classes made a 301 MB metrics.json). Larger ones are
# recomputed from predictions.parquet when needed.
MAX_CONFUSION_CLASSES = 50


def compute_metrics(gold: Sequence | np.ndarray, proba: np.ndarray, labels: Sequence[str], multi_label: bool,
                    thresholds: Sequence[float] | np.ndarray | None = None,
                    invalid: Sequence[bool] | np.ndarray | None = None,
                    n_bootstrap: int = CI_RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Score n predictions against gold labels.

    gold: single-label → label strings (or an int array of class indices); multi-label → lists
    of label strings (or an n × L 0/1 matrix). proba: n × L scores (rows sum to 1 for
    single-label; independent per-label probabilities for multi-label, cut at ``thresholds``,
    default 0.5). invalid: optional boolean per row (answer unusable → counted wrong).
    """
    labels = [str(x) for x in labels]
    n_labels = len(labels)
    if n_labels < 2 and not multi_label:
        raise ValueError(f"need at least 2 labels for single-label metrics, got {labels}")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != n_labels:
        raise ValueError(f"proba must be n × {n_labels} (one column per label), got shape {proba.shape}")
    n = proba.shape[0]
    if n == 0:
        raise ValueError("no predictions to score (empty test set)")
    inv = _invalid_mask(invalid, n)
    proba = _clean_proba(proba, inv, multi_label)

    if multi_label:
        y_true = _gold_matrix(gold, labels, n)
        th = np.full(n_labels, 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        if th.shape != (n_labels,):
            raise ValueError(f"thresholds must have one value per label ({n_labels}), got shape {th.shape}")
        y_pred = (proba >= th).astype(np.int64)
        y_pred[inv] = 0
        out = _multi_label_block(y_true, y_pred, proba, labels, inv)
        out["thresholds"] = [float(t) for t in th]
        g_ind, p_ind = y_true, y_pred
        correct = (y_true == y_pred).all(axis=1) & ~inv
    else:
        y_true = _gold_indices(gold, labels, n)
        y_pred = proba.argmax(axis=1)
        y_pred[inv] = -1  # matches no class: a miss for the gold class, a false positive for none
        out = _single_label_block(y_true, y_pred, proba, labels, inv)
        g_ind = np.eye(n_labels, dtype=np.int64)[y_true]
        p_ind = np.zeros((n, n_labels), dtype=np.int64)
        ok = y_pred >= 0
        p_ind[np.flatnonzero(ok), y_pred[ok]] = 1
        correct = y_true == y_pred

    out["accuracy"] = float(correct.mean())
    acc_ci, f1_ci = bootstrap_cis(correct, g_ind, p_ind, n_bootstrap=n_bootstrap, seed=seed)
    out["accuracy_ci"], out["macro_f1_ci"] = acc_ci, f1_ci
    if invalid is not None:
        out["invalid_rate"] = float(inv.mean())
        out["n_invalid"] = int(inv.sum())
    out["n"] = int(n)
    out["labels"] = labels
    out["multi_label"] = bool(multi_label)
    return out


# -- inputs ---------------------------------------------------------------------------------

def _invalid_mask(invalid: Sequence[bool] | np.ndarray | None, n: int) -> np.ndarray:
    if invalid is None:
        return np.zeros(n, dtype=bool)
    inv = np.asarray(invalid, dtype=bool)
    if inv.shape != (n,):
        raise ValueError(f"invalid must have one boolean per prediction ({n}), got shape {inv.shape}")
    return inv


def _clean_proba(proba: np.ndarray, inv: np.ndarray, multi_label: bool) -> np.ndarray:
    """Invalid rows may carry NaN scores; give them a neutral score so AUCs stay defined."""
    bad = ~np.isfinite(proba)
    if bad[~inv].any():
        row = int(np.flatnonzero(bad.any(axis=1) & ~inv)[0])
        raise ValueError(f"proba has non-finite values in row {row}, which is not marked invalid; "
                         "pass invalid=... for unusable answers or fix the scores")
    if bad.any():
        proba = proba.copy()
        proba[bad] = 0.5 if multi_label else 1.0 / proba.shape[1]
    return proba


def _gold_indices(gold: Sequence | np.ndarray, labels: list[str], n: int) -> np.ndarray:
    arr = np.asarray(gold)
    if len(arr) != n:
        raise ValueError(f"gold has {len(arr)} rows but proba has {n}")
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() >= len(labels):
            raise ValueError(f"gold class indices must be in 0..{len(labels) - 1}")
        return arr.astype(np.int64)
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.empty(n, dtype=np.int64)
    for r, g in enumerate(arr):
        key = str(g)
        if key not in index:
            raise ValueError(f"gold label {str(g)!r} (row {r}) is not one of the labels {labels}")
        out[r] = index[key]
    return out


def _gold_matrix(gold: Sequence | np.ndarray, labels: list[str], n: int) -> np.ndarray:
    if isinstance(gold, np.ndarray) and gold.ndim == 2:
        if gold.shape != (n, len(labels)):
            raise ValueError(f"gold matrix must be {n} × {len(labels)}, got {gold.shape}")
        return (gold > 0).astype(np.int64)
    if len(gold) != n:
        raise ValueError(f"gold has {len(gold)} rows but proba has {n}")
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((n, len(labels)), dtype=np.int64)
    for r, labs in enumerate(gold):
        for lab in labs:
            if str(lab) not in index:
                raise ValueError(f"gold label {str(lab)!r} (row {r}) is not one of the labels {labels}")
            out[r, index[str(lab)]] = 1
    return out


# -- point estimates ------------------------------------------------------------------------

def _per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, dict[str, Any]]:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(len(labels))),
                                                 average=None, zero_division=0)
    return {lab: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]), "support": int(s[j])}
            for j, lab in enumerate(labels)}


def _averages(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> dict[str, float]:
    out = {}
    for avg in ("macro", "micro", "weighted"):
        _, _, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=list(range(n_labels)), average=avg,
                                                     zero_division=0)
        out[f"{avg}_f1"] = float(f)
    return out


def _single_label_block(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, labels: list[str],
                        inv: np.ndarray) -> dict[str, Any]:
    L = len(labels)
    out: dict[str, Any] = _averages(y_true, y_pred, L)
    out["per_class"] = _per_class(y_true, y_pred, labels)
    if L <= MAX_CONFUSION_CLASSES:
        out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=list(range(L))).tolist()
    else:
        out["confusion_matrix"] = None
        out["confusion_matrix_omitted"] = (f"{L} classes, above {MAX_CONFUSION_CLASSES}: rebuild it from "
                                           "predictions.parquet")
    if inv.any():  # invalid answers are in no column: count them per gold row beside the matrix
        out["confusion_invalid"] = np.bincount(y_true[inv], minlength=L).tolist()
    onehot = np.eye(L, dtype=np.int64)[y_true]
    if L == 2:
        out["roc_auc"] = _binary_score(roc_auc_score, onehot[:, 1], proba[:, 1])
        out["pr_auc"] = _binary_score(average_precision_score, onehot[:, 1], proba[:, 1])
        out["positive_label"] = labels[1]
    else:
        out["roc_auc"], out["pr_auc"] = _ovr_auc(onehot, proba, out["per_class"], labels)
    return out


def _multi_label_block(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, labels: list[str],
                       inv: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = _averages(y_true, y_pred, len(labels))
    out["per_class"] = _per_class(y_true, y_pred, labels)
    out["subset_accuracy"] = float(((y_true == y_pred).all(axis=1) & ~inv).mean())
    out["hamming_loss"] = float(hamming_loss(y_true, y_pred))
    out["roc_auc"], out["pr_auc"] = _ovr_auc(y_true, proba, out["per_class"], labels)
    return out


def _binary_score(fn: Any, y: np.ndarray, score: np.ndarray) -> float | None:
    if y.min() == y.max():  # one gold class only: AUC undefined
        return None
    return float(fn(y, score))


def _ovr_auc(y: np.ndarray, proba: np.ndarray, per_class: dict[str, dict[str, Any]],
             labels: list[str]) -> tuple[float | None, float | None]:
    """Macro one-vs-rest AUCs over the labels where both gold classes occur (others: None)."""
    rocs, prs = [], []
    for j, lab in enumerate(labels):
        roc = _binary_score(roc_auc_score, y[:, j], proba[:, j])
        pr = _binary_score(average_precision_score, y[:, j], proba[:, j])
        per_class[lab]["roc_auc"], per_class[lab]["pr_auc"] = roc, pr
        if roc is not None:
            rocs.append(roc)
            prs.append(pr)
    if not rocs:
        return None, None
    return float(np.mean(rocs)), float(np.mean(prs))


# -- bootstrap ------------------------------------------------------------------------------

def bootstrap_cis(correct: np.ndarray, gold_ind: np.ndarray, pred_ind: np.ndarray,
                  n_bootstrap: int = CI_RESAMPLES, seed: int = SEED,
                  level: float = CI_LEVEL) -> tuple[list[float] | None, list[float] | None]:
    """Percentile CIs for accuracy and macro-F1 from n × L gold/prediction indicator matrices.

    The resampling is :mod:`pipelines.bootstrap`'s (count weights, chunked), the same the paired
    significance test of two runs uses.
    """
    n = len(correct)
    if n < 2 or n_bootstrap <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    tp_i, fp_i, fn_i = confusion_parts(gold_ind, pred_ind)
    c = correct.astype(np.float64)
    accs, f1s = [], []
    for w in resample_weights(n, n_bootstrap, rng, max_cells=5_000_000):
        accs.append(w @ c / n)
        f1s.append(macro_f1_from_counts(w @ tp_i, w @ fp_i, w @ fn_i))
    acc_ci = percentile_interval(np.concatenate(accs), level)
    f1_ci = percentile_interval(np.concatenate(f1s), level)
    return list(acc_ci), list(f1_ci)
