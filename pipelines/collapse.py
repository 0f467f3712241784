"""Collapsed runs: predictions that put (almost) every text in one class, or never name a class.

Small LLMs prompted zero-shot often answer one label for nearly every text; their accuracy
then equals that label's share of the test split and looks like a result. Such a run must
say so wherever its numbers are shown, with what it predicted beside the gold shares, so
the fact is computed once here and every surface (Home, Compare, ``compare``, ``runs
show``) reads the same thing.

The distribution is written into ``metrics.json`` as ``prediction_distribution`` when a
run finishes (:mod:`pipelines.finish`); for runs finished before that, it is recomputed
from ``predictions.parquet``. Numpy/pandas only: the dashboard imports this module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .runfolder import RunFolder

log = logging.getLogger(__name__)

DOMINANT_SHARE = 0.9  # a run predicting one class for ≥ 90% of texts is collapsed (if gold is less skewed)
INVALID = "(invalid)"


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    try:
        return [str(x) for x in v]
    except TypeError:
        return [] if pd.isna(v) else [str(v)]


def distribution(gold: Sequence[Any], pred: Sequence[Any], labels: Sequence[str], multi_label: bool
                 ) -> dict[str, Any]:
    """Counts per class of the predictions and of the gold labels, and the warning if collapsed.

    Single-label: each text counts once (an invalid answer under ``(invalid)``); multi-label:
    a text counts for every label it has. ``warning`` is None for a healthy run.
    """
    labels = [str(x) for x in labels]
    n = len(gold)
    pred_counts = dict.fromkeys(labels, 0)
    gold_counts = dict.fromkeys(labels, 0)
    invalid = 0
    for g, p in zip(gold, pred):
        for lab in _as_list(g):
            if lab in gold_counts:
                gold_counts[lab] += 1
        names = _as_list(p)
        if not multi_label and not names:
            invalid += 1
        for lab in names:
            if lab in pred_counts:
                pred_counts[lab] += 1
    out: dict[str, Any] = {"n": n, "predicted": pred_counts, "gold": gold_counts, "invalid": invalid}
    out["warning"] = warning(out, multi_label)
    return out


def warning(dist: dict[str, Any], multi_label: bool) -> str | None:
    """One sentence when the predictions collapsed, else None."""
    n = dist.get("n") or 0
    if n == 0:
        return None
    pred, gold = dist["predicted"], dist["gold"]
    parts = []
    if not multi_label:
        top = max(pred, key=lambda k: pred[k])
        share, gold_share = pred[top] / n, gold.get(top, 0) / n
        if share >= DOMINANT_SHARE and gold_share < share:
            parts.append(f"predicts {top!r} for {share:.0%} of texts (gold share {gold_share:.0%})")
    never = [lab for lab, c in pred.items() if c == 0 and gold.get(lab, 0) > 0]
    if never:
        parts.append("never predicts " + ", ".join(repr(x) for x in never))
    if not parts:
        return None
    return "Collapsed predictions: " + "; ".join(parts) + "."


def of_predictions(preds: pd.DataFrame, labels: Sequence[str], multi_label: bool) -> dict[str, Any]:
    return distribution(preds["gold"].tolist(), preds["pred"].tolist(), labels, multi_label)


def for_run(folder: str | Path, metrics: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A run's distribution: from metrics.json when recorded there, else from predictions.parquet.

    None when neither is readable (a run folder copied without its predictions).
    """
    rf = RunFolder(folder)
    if metrics is None:
        try:
            metrics = rf.read_metrics()
        except (OSError, ValueError):
            metrics = {}
    saved = metrics.get("prediction_distribution")
    if saved:
        return saved
    labels = metrics.get("labels")
    try:
        preds = pd.read_parquet(rf.predictions, columns=["gold", "pred"])
    except (OSError, ValueError, KeyError) as exc:
        log.debug("no predictions in %s: %s", folder, exc)
        return None
    if not labels:
        seen = {lab for v in preds["gold"] for lab in _as_list(v)}
        labels = sorted(seen)
    return of_predictions(preds, labels, bool(metrics.get("multi_label")))


def shares_text(dist: dict[str, Any]) -> str:
    """"predicted: negative 98%, positive 2% · gold: negative 52%, positive 48%" for a warning line."""
    n = max(1, dist.get("n") or 0)

    def fmt(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v / n:.0%}" for k, v in counts.items())

    inv = f", {INVALID} {dist['invalid'] / n:.0%}" if dist.get("invalid") else ""
    return f"predicted: {fmt(dist['predicted'])}{inv} · gold: {fmt(dist['gold'])}"


def frame(dist: dict[str, Any]) -> pd.DataFrame:
    """Class × (predicted, gold) counts and shares, for a table beside the warning."""
    n = max(1, dist.get("n") or 0)
    rows = [{"class": lab, "predicted": dist["predicted"][lab], "predicted %": 100 * dist["predicted"][lab] / n,
             "gold": dist["gold"].get(lab, 0), "gold %": 100 * dist["gold"].get(lab, 0) / n}
            for lab in dist["predicted"]]
    if dist.get("invalid"):
        rows.append({"class": INVALID, "predicted": dist["invalid"], "predicted %": 100 * dist["invalid"] / n,
                     "gold": 0, "gold %": 0.0})
    return pd.DataFrame(rows)


def collapsed_runs(comp: Any) -> list[dict[str, Any]]:
    """The collapsed runs of a :class:`pipelines.compare.Comparison`: run_id, label, warning, distribution.

    Duck-typed (``run_ids``, ``path_of``, ``metrics``, ``label_of``) so this module stays
    importable without the comparison machinery.
    """
    out = []
    for rid in comp.run_ids:
        dist = for_run(comp.path_of(rid), comp.metrics.get(rid) or None)
        if dist and dist.get("warning"):
            out.append({"run_id": rid, "label": comp.label_of(rid), "warning": dist["warning"],
                        "distribution": dist})
    return out


def warning_lines(comp: Any) -> list[str]:
    """Plain-text lines for the CLI: the warning, then predicted vs gold shares."""
    return [f"warning: {c['label']}: {c['warning']}\n  {shares_text(c['distribution'])}" for c in collapsed_runs(comp)]
