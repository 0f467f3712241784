"""Quality charts of a comparison: per-class F1 bars, confusion matrices and the difference of two runs.

Pure functions: frames from :class:`pipelines.compare.Comparison` (``per_class()``,
``confusion(id)``) in, plotly figure out; style and run colours from :mod:`.theme`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import reference as reference_lines
from . import theme


def per_class_f1(per_class: pd.DataFrame, colors: Mapping[str, str] | None = None,
                 title: str = "Per-class F1 on the test split", reference: Mapping[str, Any] | None = None
                 ) -> go.Figure:
    """Grouped bars: one group per class, one bar per run (F1, with precision/recall on hover).

    ``reference`` (:func:`pipelines.verdict.reference_line`): the TF-IDF reference's F1 of each
    class as a short horizontal mark across that class's bars, so a bar below it is a class the
    reference handles better.
    """
    if per_class.empty:
        return theme.empty_figure(title, "No per-class metrics in these runs")
    run_ids, cmap = theme.frame_colors(per_class, colors)
    classes = list(dict.fromkeys(per_class["class"]))
    support = per_class.groupby("class", sort=False)["support"].max()
    ticks = [f"{c} (n={int(support[c])})" if pd.notna(support.get(c)) else str(c) for c in classes]
    traces = []
    labelled = len(run_ids) * len(classes) <= 24  # value labels only while they fit
    for rid in run_ids:
        d = per_class[per_class["run_id"] == rid].set_index("class").reindex(classes)
        traces.append({
            "type": "bar", "x": ticks, "y": theme.plain_list(d["f1"]), "name": str(d["label"].dropna().iloc[0]),
            "marker": {"color": cmap[rid]},
            "texttemplate": "%{y:.2f}" if labelled else None, "textposition": "outside",
            "textfont": {"size": 11}, "cliponaxis": False,
            "customdata": [[p, r] for p, r in zip(theme.plain_list(d["precision"]), theme.plain_list(d["recall"]))],
            "hovertemplate": "%{x}<br>F1 %{y:.3f}<br>precision %{customdata[0]:.3f}<br>"
                             "recall %{customdata[1]:.3f}<extra>%{fullData.name}</extra>",
        })
    ref = (reference or {}).get("per_class") or {}
    if ref:
        marks = [ref.get(c) for c in classes]
        traces.append({"type": "scatter", "x": ticks, "y": theme.plain_list(marks), "mode": "markers",
                       "name": f"{(reference or {}).get('label', 'TF-IDF reference')} (its F1 per class)",
                       "marker": {"symbol": "line-ew", "size": 46, "color": reference_lines.LINE,
                                  "line": {"width": 2.5, "color": reference_lines.LINE}},
                       "hovertemplate": "%{x}<br>reference F1 %{y:.3f}<extra>%{fullData.name}</extra>"})
    return theme.figure(traces, theme.layout(
        title, barmode="group", bargap=0.25, bargroupgap=0.05,
        xaxis={"title": {"text": "Class (test examples per class)"}},
        yaxis={"title": {"text": "F1 score (0–1)"}, "range": [0, 1.05]}))


def _row_normalise(cm: np.ndarray) -> np.ndarray:
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)


def confusion_matrices(matrices: Mapping[str, np.ndarray], labels: Sequence[str], names: Mapping[str, str],
                       colors: Mapping[str, str] | None = None,
                       title: str = "Confusion matrices (share of each gold class; counts on hover)") -> go.Figure:
    """Side-by-side row-normalised confusion matrices, one per run (rows gold, columns predicted)."""
    items = [(rid, np.asarray(cm)) for rid, cm in matrices.items() if cm is not None]
    if not items:
        return theme.empty_figure(title, "No confusion matrices (multi-label runs have none)")
    cmap = theme.colors_for([rid for rid, _ in items], colors)
    k = len(items)
    labels = [str(x) for x in labels]
    axes, notes = theme.grid(k, 0.04 if k > 1 else 0.0, [names.get(rid, rid) for rid, _ in items], shared_y=True,
                        title_colors=[cmap[rid] for rid, _ in items])
    traces = []
    for i, (rid, cm) in enumerate(items, start=1):
        name = names.get(rid, rid)
        traces.append({
            "type": "heatmap", **theme.axis_ref(i), "z": _row_normalise(cm).tolist(), "x": labels, "y": labels,
            "customdata": cm.tolist(), "zmin": 0, "zmax": 1, "colorscale": "Blues", "showscale": i == k,
            "colorbar": {"title": {"text": "Share of<br>gold class"}, "tickformat": ".0%"},
            "texttemplate": "%{z:.0%}", "textfont": {"size": 12}, "name": name,
            "hovertemplate": "gold %{y} → predicted %{x}<br>%{customdata} texts (%{z:.1%} of gold %{y})"
                             f"<extra>{name}</extra>",
        })
        axes["xaxis" if i == 1 else f"xaxis{i}"].update(title={"text": "Predicted class"}, showgrid=False)
        axes["yaxis" if i == 1 else f"yaxis{i}"].update(autorange="reversed", showgrid=False)
    axes["yaxis"]["title"] = {"text": "Gold class"}
    width_per = 320 if len(labels) <= 3 else 380
    return theme.figure(traces, theme.layout(title, height=440, width=max(560, 120 + width_per * k), legend_title=None,
                                   annotations=notes, **axes))


def confusion_difference(cm_a: np.ndarray, cm_b: np.ndarray, labels: Sequence[str], name_a: str,
                         name_b: str) -> go.Figure:
    """B − A of row-normalised matrices in percentage points, coloured by who is better.

    The numbers are the raw change of each cell's share; the colour is that change counted
    as good or bad (more on the diagonal is good, more off it is bad), so blue always means
    "B is better here" and red "B is worse", on and off the diagonal alike.
    """
    title = f"Confusion difference: {name_b} − {name_a}"
    if cm_a is None or cm_b is None:
        return theme.empty_figure(title, "Both runs need a confusion matrix (single-label runs)")
    cm_a, cm_b = np.asarray(cm_a), np.asarray(cm_b)
    diff = (_row_normalise(cm_b) - _row_normalise(cm_a)) * 100
    sign = np.where(np.eye(len(diff), dtype=bool), 1.0, -1.0)
    gain = diff * sign
    lim = max(1.0, float(np.abs(gain).max()))
    labels = [str(x) for x in labels]
    text = [[f"{v:+.1f}" for v in row] for row in diff]
    trace = {
        "type": "heatmap", "z": gain.tolist(), "x": labels, "y": labels, "zmin": -lim, "zmax": lim, "zmid": 0,
        "colorscale": "RdBu", "text": text, "texttemplate": "%{text}", "textfont": {"size": 12},
        "customdata": np.stack([cm_a, cm_b], axis=-1).tolist(),
        "colorbar": {"title": {"text": "B vs A", "side": "top"}, "tickvals": [-lim, 0, lim],
                     "ticktext": ["B worse", "same", "B better"], "thickness": 14},
        "hovertemplate": (f"gold %{{y}} → predicted %{{x}}<br>{name_a}: %{{customdata[0]}} texts<br>"
                          f"{name_b}: %{{customdata[1]}} texts<br>change %{{text}} points<extra></extra>"),
    }
    note = theme.note(f"A = {name_a}, B = {name_b}. Numbers: B − A, points of each gold class."
                 "<br>Blue: B better there (more right on the diagonal, fewer mistakes off it); red: B worse.",
                 -0.2, size=11)
    return theme.figure([trace], theme.layout(
        title, height=480, width=max(680, 260 + 110 * len(labels)), legend_title=None, annotations=[note],
        margin={"l": 70, "r": 110, "t": 80, "b": 120},  # the colour bar and its tick words sit in the right margin
        xaxis={"title": {"text": "Predicted class"}, "showgrid": False},
        yaxis={"title": {"text": "Gold class"}, "autorange": "reversed", "showgrid": False}))
