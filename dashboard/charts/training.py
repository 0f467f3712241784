"""Training curves: loss and validation macro-F1 against the optimizer step, from the store's history."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from . import theme


def _is_loss(name: str) -> bool:
    n = name.lower()
    return "loss" in n and not n.startswith(("eval", "val"))


def _is_val_f1(name: str) -> bool:
    n = name.lower()
    return "f1" in n and n.startswith(("eval", "val"))


def training_curves(history: pd.DataFrame, colors: Mapping[str, str] | None = None,
                    title: str = "Training curves") -> go.Figure:
    """Training loss and validation macro-F1 against the optimizer step, one line per run."""
    if history.empty:
        return theme.empty_figure(title, "No training history: these runs were not trained (e.g. LLM baselines)")
    names = history["name"].astype(str)
    loss = history[names.map(_is_loss)]
    val = history[names.map(_is_val_f1)]
    run_ids, cmap = theme.frame_colors(history, colors)
    axes, notes = theme.grid(2, 0.1, ["Training loss", "Validation macro-F1"])
    traces = []
    for rid in run_ids:
        label = str(history.loc[history["run_id"] == rid, "label"].iloc[0])
        shown = False
        for col, part, fmt in ((1, loss, ".4f"), (2, val, ".3f")):
            d = part[part["run_id"] == rid].sort_values("step")
            if d.empty:
                continue
            traces.append({
                "type": "scatter", **theme.axis_ref(col), "x": theme.plain_list(d["step"]), "y": theme.plain_list(d["value"]),
                "mode": "lines+markers" if len(d) < 30 else "lines", "name": label, "legendgroup": rid,
                "showlegend": not shown, "line": {"color": cmap[rid], "width": 2}, "marker": {"size": 6},
                "customdata": theme.plain_list(d["epoch"].fillna(0)),
                "hovertemplate": f"step %{{x}} (epoch %{{customdata:.2f}})<br>%{{y:{fmt}}}<extra>{label}</extra>",
            })
            shown = True
    axes["xaxis"]["title"] = axes["xaxis2"]["title"] = {"text": "Optimizer step"}
    axes["yaxis"]["title"] = {"text": "Loss (cross-entropy)"}
    axes["yaxis2"]["title"] = {"text": "Macro-F1 (0–1)"}
    if val.empty:
        notes.append({"text": "no validation scores logged", "x": 0.8, "y": 0.5, "xref": "paper", "yref": "paper",
                      "showarrow": False, "font": {"color": "#666"}})
    return theme.figure(traces, theme.layout(title, height=420, annotations=notes, **axes))
