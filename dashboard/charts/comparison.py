"""The charts of a comparison, in one list: the Compare page shows them, the Export page and the bundle export them.

:func:`comparison_figures` is the one place that decides which charts a comparison has, and
:func:`chart_titles` what the Export page calls them, so the three always agree. There is one
Pareto chart per cost column of :mod:`pipelines.columns`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from pipelines import columns, curves, verdict
from pipelines.compare import Comparison

from . import curve, energy, pareto, quality, theme, training

CONFUSION_MAX = 4  # side-by-side matrices stay readable up to about four

#: the charts after the Pareto ones, by file-name stem, in display order.
DETAIL_CHARTS = {
    "per_class_f1": "Per-class F1",
    "confusion_matrices": "Confusion matrices",
    "confusion_difference": "Confusion difference (B − A)",
    "training_curves": "Training curves",
    "energy_co2": "Energy and CO2 per phase",
    "learning_curve": "Quality vs labelled training texts (learning curve)",
}


def chart_titles() -> dict[str, str]:
    """File-name stem → what the chart is, for every chart a comparison can have, in display order."""
    out = {pareto.chart_name(c.key): f"Quality vs {c.name} (Pareto)" for c in columns.cost_columns()}
    return {**out, **DETAIL_CHARTS}


def comparison_figures(comp: Comparison, history: pd.DataFrame | None = None,
                       colors: Mapping[str, str] | None = None, detail_runs: Sequence[str] | None = None,
                       pair: tuple[str, str] | None = None, quality_key: str = "macro_f1",
                       only: Collection[str] | None = None) -> dict[str, go.Figure]:
    """The charts of a comparison, by file-name stem, in display order.

    ``detail_runs`` limits the per-run charts (per-class, confusion, curves, energy) to a few
    runs, since 100 bars per class read as noise; the Pareto charts always show every run.
    Confusion matrices show the first :data:`CONFUSION_MAX` of them. ``pair`` (A, B) adds the
    confusion-difference chart. ``only``: build just these names (a page showing one Pareto
    view does not pay for the others). The quality charts mark the dataset's TF-IDF reference
    (:func:`pipelines.verdict.reference_line`); the learning curve is there when the comparison
    has curve points (:func:`pipelines.curves.curve_points`).
    """
    def wanted(name: str) -> bool:
        return only is None or name in only

    colors = colors or theme.run_colors(comp.run_ids)
    detail = comp.subset(list(detail_runs)) if detail_runs is not None else comp
    figs: dict[str, go.Figure] = {}
    ref = verdict.reference_line(comp, quality_key)
    for x in pareto.cost_axes():
        name = pareto.chart_name(x)
        if wanted(name):
            figs[name] = pareto.pareto_chart(comp.runs, x=x, y=quality_key, colors=colors, reference=ref)
    if wanted("per_class_f1"):
        figs["per_class_f1"] = quality.per_class_f1(detail.per_class(), colors, reference=ref)
    if not comp.multi_label:
        if wanted("confusion_matrices"):
            shown = detail.run_ids[:CONFUSION_MAX]
            figs["confusion_matrices"] = quality.confusion_matrices(
                {rid: detail.confusion(rid) for rid in shown}, comp.labels,
                {rid: detail.label_of(rid) for rid in shown}, colors)
        if wanted("confusion_difference") and pair and all(r in comp.runs.index for r in pair) and pair[0] != pair[1]:
            a, b = pair
            figs["confusion_difference"] = quality.confusion_difference(
                comp.confusion(a), comp.confusion(b), comp.labels, comp.label_of(a), comp.label_of(b))
    if history is not None and wanted("training_curves"):
        hist = history[history["run_id"].isin(detail.run_ids)]
        figs["training_curves"] = training.training_curves(hist, colors)
    if wanted("energy_co2"):
        figs["energy_co2"] = energy.energy_breakdown(detail.emissions(), colors)
    if wanted("learning_curve"):
        points = curves.curve_points(comp, quality_key)
        if not points.empty:
            figs["learning_curve"] = curve.learning_curve(points, curves.llm_references(comp, quality_key),
                                                          quality_key, reference=ref)
    return figs
