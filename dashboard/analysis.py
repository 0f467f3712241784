"""Pure functions behind the Errors and Playground pages (data frames in, data frames out; no Streamlit).

Errors work only from the runs' saved ``predictions.parquet`` — test ids, gold, predicted
label and one ``p::<label>`` score column per class — so no model is loaded to explore them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.runs import PROB_PREFIX


def norm_label(v: Any) -> str:
    """A label (single-label) or label set (multi-label) as one comparable string."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return " | ".join(sorted(str(x) for x in v)) or "(none)"
    return str(v)


def join_predictions(preds: Mapping[str, pd.DataFrame], names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per test example: ``id, text, gold`` then ``pred::<run>``, ``correct::<run>``,
    ``p_pred::<run>`` and ``p_gold::<run>`` for each run, plus ``n_wrong``, ``disagree``, ``all_wrong``.

    Runs must be on the same split (the caller checks split hashes); rows are matched by id and an
    example missing from any run is dropped, so every model is judged on the same texts.
    """
    if not preds:
        raise ValueError("no runs to compare: pick at least one run")
    names = dict(names or {})
    base: pd.DataFrame | None = None
    for run_id, df in preds.items():
        labels = [c[len(PROB_PREFIX):] for c in df.columns if c.startswith(PROB_PREFIX)]
        part = pd.DataFrame({"id": df["id"].to_numpy()})
        if base is None:
            part["text"] = df["text"].to_numpy()
            part["gold"] = [norm_label(g) for g in df["gold"]]
        pred = [norm_label(p) for p in df["pred"]]
        gold = [norm_label(g) for g in df["gold"]]
        part[f"pred::{run_id}"] = pred
        part[f"correct::{run_id}"] = [p == g for p, g in zip(pred, gold)]
        proba = df[[PROB_PREFIX + lab for lab in labels]].to_numpy(dtype=float) if labels else np.zeros((len(df), 0))
        index = {lab: j for j, lab in enumerate(labels)}
        part[f"p_pred::{run_id}"] = [proba[i, index[p]] if p in index else np.nan for i, p in enumerate(pred)]
        part[f"p_gold::{run_id}"] = [proba[i, index[g]] if g in index else np.nan for i, g in enumerate(gold)]
        base = part if base is None else base.merge(part, on="id", how="inner")
    assert base is not None
    run_ids = list(preds)
    correct = base[[f"correct::{r}" for r in run_ids]].to_numpy(dtype=bool)
    predicted = base[[f"pred::{r}" for r in run_ids]]
    base["n_wrong"] = (~correct).sum(axis=1)
    base["disagree"] = predicted.nunique(axis=1) > 1
    base["all_wrong"] = ~correct.any(axis=1)
    base.attrs["run_names"] = {r: names.get(r, r) for r in run_ids}
    return base


VIEWS = {
    "disagree": "models disagree",
    "all_wrong": "all models wrong",
    "any_wrong": "any model wrong",
    "all": "every test example",
}


def filter_examples(table: pd.DataFrame, view: str = "disagree", gold: Sequence[str] = (),
                    predicted: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of ``join_predictions`` for one view, restricted to gold classes and/or classes some model predicted."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
    mask = pd.Series(True, index=table.index)
    if view == "disagree":
        mask &= table["disagree"]
    elif view == "all_wrong":
        mask &= table["all_wrong"]
    elif view == "any_wrong":
        mask &= table["n_wrong"] > 0
    if gold:
        mask &= table["gold"].isin(list(gold))
    if predicted:
        pred_cols = [c for c in table.columns if c.startswith("pred::")]
        mask &= table[pred_cols].isin(list(predicted)).any(axis=1)
    return table[mask]


def agreement(results: Sequence[Mapping[str, Any]], gold: str | Sequence[str] | None = None) -> dict[str, Any]:
    """Summary of one Playground answer: the predicted label per run, whether they disagree,
    and which runs match the gold label when it is known."""
    preds = {r["run_id"]: norm_label(r["pred"][0]) for r in results}
    out: dict[str, Any] = {"preds": preds, "disagree": len(set(preds.values())) > 1, "labels": sorted(set(preds.values()))}
    if gold is not None:
        g = norm_label(gold)
        out["gold"] = g
        out["correct"] = {k: v == g for k, v in preds.items()}
    return out
