"""Statistics of a comparison: paired significance tests of two runs, p-values in words, the Pareto front.

Numpy only (no scipy: its import alone costs the dashboard seconds).

Significance: paired tests on the same test examples. McNemar looks only at the examples
where exactly one of the two runs is right (the discordant pairs); with fewer than 25 of
them the chi-square approximation is poor, so the exact binomial test is used. The paired
bootstrap resamples test examples (the same resample for both runs) and reads how often the
difference in accuracy or macro-F1 is at least as extreme as observed under the null of no
difference (the centred bootstrap distribution), which also works for macro-F1, where
McNemar does not apply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .bootstrap import (
    SIGNIFICANCE_RESAMPLES,
    confusion_parts,
    macro_f1_from_counts,
    percentile_interval,
    resample_weights,
)
from .selection import MixedSplitsError

if TYPE_CHECKING:
    from .compare import Comparison

ALPHA = 0.05
EXACT_BELOW = 25  # McNemar: exact binomial test when discordant pairs < this


def indicator(values: Sequence, labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """n × L 0/1 matrix from label strings (single-label) or lists of them; unknown labels → all zeros."""
    index = {str(lab): j for j, lab in enumerate(labels)}
    out = np.zeros((len(values), len(labels)), dtype=np.int64)
    for r, v in enumerate(values):
        items = list(v) if multi_label and v is not None and not isinstance(v, str) else [v]
        for lab in items:
            j = index.get(str(lab))
            if j is not None:
                out[r, j] = 1
    return out


def paired_predictions(comp: Comparison, run_a: str, run_b: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gold, A and B as n × L indicator matrices aligned on test-example id."""
    for rid in (run_a, run_b):
        if rid not in comp.runs.index:
            raise ValueError(f"run {rid!r} is not in this comparison")
    a, b = comp.predictions(run_a), comp.predictions(run_b)
    if set(a["id"]) != set(b["id"]):
        raise MixedSplitsError(f"runs {run_a} and {run_b} were scored on different test examples "
                               f"({len(a)} vs {len(b)} rows); a paired test needs the same examples")
    b = b.set_index("id").loc[a["id"]].reset_index()
    ml = comp.multi_label
    return (indicator(a["gold"], comp.labels, ml), indicator(a["pred"], comp.labels, ml),
            indicator(b["pred"], comp.labels, ml))


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n trials at p = 0.5 (the McNemar null).

    The distribution is symmetric, so the two-sided p-value is twice the smaller tail. Written
    out (math.comb) instead of scipy.stats, whose import costs the dashboard seconds.
    """
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _chi2_sf_1df(x: float) -> float:
    """Survival function of chi-square with one degree of freedom: P(X ≥ x) = erfc(√(x/2))."""
    return math.erfc(math.sqrt(max(0.0, x) / 2))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """McNemar's test on paired right/wrong outcomes; exact binomial when discordant pairs are few."""
    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError(f"paired outcomes must have the same length, got {ca.shape} and {cb.shape}")
    only_a = int((ca & ~cb).sum())
    only_b = int((~ca & cb).sum())
    n_disc = only_a + only_b
    if n_disc == 0:
        p, method, statistic = 1.0, "exact binomial (no discordant pairs)", 0.0
    elif n_disc < EXACT_BELOW:
        p = _binom_two_sided(min(only_a, only_b), n_disc)
        method, statistic = "exact binomial", float(min(only_a, only_b))
    else:
        statistic = (abs(only_a - only_b) - 1) ** 2 / n_disc
        p = _chi2_sf_1df(statistic)
        method = "chi-square with continuity correction"
    return {"test": "McNemar", "method": method, "only_a_correct": only_a, "only_b_correct": only_b,
            "both_correct": int((ca & cb).sum()), "both_wrong": int((~ca & ~cb).sum()),
            "statistic": statistic, "p_value": min(1.0, p)}


def paired_bootstrap(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, metric: str = "accuracy",
                     n_bootstrap: int = SIGNIFICANCE_RESAMPLES, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Paired bootstrap of metric(B) − metric(A) over test examples (n × L indicator matrices).

    Both runs are scored on the same resample (:mod:`pipelines.bootstrap`). The p-value is
    two-sided: the share of resampled differences, centred on the observed one (the null of no
    difference), that are at least as far from zero as the observed difference.
    """
    if metric not in ("accuracy", "macro_f1"):
        raise ValueError(f"metric must be 'accuracy' or 'macro_f1', got {metric!r}")
    gold, pred_a, pred_b = (np.asarray(x, dtype=np.float64) for x in (gold, pred_a, pred_b))
    n = gold.shape[0]
    if n < 2:
        raise ValueError("a paired bootstrap needs at least 2 test examples")
    rng = np.random.default_rng(seed)

    def per_row(pred: np.ndarray) -> tuple[np.ndarray, ...]:
        return ((pred == gold).all(axis=1).astype(np.float64), *confusion_parts(gold, pred))

    ra, rb = per_row(pred_a), per_row(pred_b)

    def score(w: np.ndarray, r: tuple[np.ndarray, ...]) -> np.ndarray:
        if metric == "accuracy":
            return w @ r[0] / n
        return macro_f1_from_counts(w @ r[1], w @ r[2], w @ r[3])

    ones = np.ones((1, n))
    observed = float(score(ones, rb)[0] - score(ones, ra)[0])
    d = np.concatenate([score(w, rb) - score(w, ra) for w in resample_weights(n, n_bootstrap, rng)])
    lo, hi = percentile_interval(d, level)
    # +1 smoothing: a p-value from B resamples is never exactly 0.
    extreme = int(np.sum(np.abs(d - observed) >= abs(observed) - 1e-12))
    p = (extreme + 1) / (len(d) + 1) if observed != 0 else 1.0
    return {"test": "paired bootstrap", "metric": metric, "difference": observed, "ci": [lo, hi],
            "n_bootstrap": int(len(d)), "p_value": float(min(1.0, p))}


def format_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def p_value_in_words(p: float, alpha: float = ALPHA) -> str:
    """A p-value as a sentence a non-statistician reads correctly."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "no p-value: the test could not be run"
    level = f"{alpha * 100:g}%"
    if p < alpha:
        return f"{format_p(p)}: the difference is unlikely to be chance at the {level} level"
    return (f"{format_p(p)}: the difference could well be chance (not significant at the {level} level); "
            "more test examples would be needed to tell these runs apart")


def significance(comp: Comparison, run_a: str, run_b: str, n_bootstrap: int = SIGNIFICANCE_RESAMPLES,
                 seed: int = 0) -> dict[str, Any]:
    """McNemar + paired bootstrap (accuracy and macro-F1) of B against A, each with its p-value in words."""
    gold, pa, pb = paired_predictions(comp, run_a, run_b)
    ca, cb = (pa == gold).all(axis=1), (pb == gold).all(axis=1)
    mc = mcnemar(ca, cb)
    out = {"run_a": run_a, "run_b": run_b, "label_a": comp.label_of(run_a), "label_b": comp.label_of(run_b),
           "n": int(len(gold)), "mcnemar": mc,
           "bootstrap_accuracy": paired_bootstrap(gold, pa, pb, "accuracy", n_bootstrap, seed),
           "bootstrap_macro_f1": paired_bootstrap(gold, pa, pb, "macro_f1", n_bootstrap, seed)}
    for key in ("mcnemar", "bootstrap_accuracy", "bootstrap_macro_f1"):
        out[key]["words"] = p_value_in_words(out[key]["p_value"])
    return out


# ---------------------------------------------------------------------------- Pareto

def pareto_front(quality: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point beats: higher quality and lower cost.

    A point is dominated when another has quality ≥ and cost ≤ with at least one strict.
    Points with a missing quality or cost are never on the front.
    """
    q = np.asarray(quality, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if q.shape != c.shape:
        raise ValueError(f"quality and cost must have the same length, got {q.shape} and {c.shape}")
    ok = np.isfinite(q) & np.isfinite(c)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        better_or_equal = ok & (q >= q[i]) & (c <= c[i])
        strictly = (q > q[i]) | (c < c[i])
        if np.any(better_or_equal & strictly):
            front[i] = False
    return front
