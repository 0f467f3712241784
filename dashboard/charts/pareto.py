"""Quality vs cost with the Pareto frontier: which runs no other run beats on both axes.

The axes are the metric columns with a Pareto role in :mod:`pipelines.columns` (quality: y;
cost: x), so a registered cost column gets its own Pareto chart, and every table column is
in the hover text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pipelines import columns
from pipelines.stats import pareto_front

from . import reference as reference_lines
from . import theme


def quality_axes() -> dict[str, str]:
    """Column key → axis title of the columns a Pareto chart can put on y."""
    return {c.key: c.axis for c in columns.quality_columns()}


def cost_axes() -> dict[str, str]:
    """Column key → axis title of the columns a Pareto chart can put on x (one chart each)."""
    return {c.key: c.axis for c in columns.cost_columns()}


def chart_name(cost: str) -> str:
    """File-name stem of the Pareto chart of one cost column: ``energy_kwh`` → ``pareto_energy``."""
    return f"pareto_{cost.split('_')[0]}"


def _hover_numbers(row: pd.Series) -> str:
    """Every table column but the quality ones, one per line: name, value, unit."""
    return "".join(f"<br>{c.name} {theme.fmt(row.get(c.key))} {c.unit}".rstrip()
                   for c in columns.table_columns() if c.role != "quality")


LABEL_CHARS = 22  # a point label longer than this is cut (the whole name is in the hover and the legend)


def short_label(label: str, n: int = LABEL_CHARS) -> str:
    """``"2 2-shot/class label (classify)"`` → ``"2 2-shot/class label…"``: point labels stay short."""
    label = " ".join(str(label).split())
    return label if len(label) <= n else label[: n - 1].rstrip(" ·-/(") + "…"


def label_positions(xs: Sequence[float], log_x: bool = False) -> list[str]:
    """Text positions of the frontier's labels, by x order: alternately above and below, so neighbours
    on the (rising) frontier do not print over each other; the first and last lean inwards so the plot
    edge does not cut them."""
    v = np.asarray([np.log10(x) if log_x and x > 0 else x for x in xs], dtype=np.float64)
    order = np.argsort(v, kind="stable")
    out = [""] * len(v)
    for rank, i in enumerate(order):
        vert = "top" if rank % 2 == 0 else "bottom"
        horiz = "right" if rank == 0 and len(v) > 1 else "left" if rank == len(v) - 1 and len(v) > 1 else "center"
        out[i] = f"{vert} {horiz}"
    return out


def _marker_sizes(values: pd.Series, lo: float = 10, hi: float = 30) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    out = np.full(len(v), (lo + hi) / 2)
    ok = np.isfinite(v) & (v > 0)
    if ok.sum() >= 2 and np.ptp(np.sqrt(v[ok])) > 0:
        s = np.sqrt(v[ok])
        out[ok] = lo + (s - s.min()) / np.ptp(s) * (hi - lo)
    return out


def pareto_chart(runs: pd.DataFrame, x: str = "energy_kwh", y: str = "macro_f1",
                 colors: Mapping[str, str] | None = None, title: str | None = None,
                 max_legend: int = 20, reference: Mapping[str, Any] | None = None) -> go.Figure:
    """Quality vs a cost (energy, latency or size), Pareto frontier drawn, CIs as error bars.

    Marker size shows model size (or latency when x is size); hover has every number. Runs
    without a value for the cost (e.g. energy not measured) are listed under the chart.
    ``reference`` (:func:`pipelines.verdict.reference_line` of ``y``): the TF-IDF reference as a
    horizontal line with its CI as a band.
    """
    if x not in cost_axes():
        raise ValueError(f"x must be one of {', '.join(cost_axes())}, got {x!r}")
    if y not in quality_axes():
        raise ValueError(f"y must be one of {', '.join(quality_axes())}, got {y!r}")
    cost, quality = columns.REGISTRY[x], columns.REGISTRY[y]
    quality_name = quality.title_name
    title = title or f"{quality_name} vs {cost.name}: Pareto frontier"
    if runs.empty:
        return theme.empty_figure(title, "No runs to plot")
    d = runs.set_index("run_id", drop=False)
    d["_x"] = pd.to_numeric(d[x], errors="coerce")
    d["_y"] = pd.to_numeric(d[y], errors="coerce")
    missing = d[d["_x"].isna() | d["_y"].isna()]
    d = d.dropna(subset=["_x", "_y"])
    if d.empty:
        return theme.empty_figure(title, f"No run has both {quality_name.lower()} and {cost.name} recorded")
    cmap = theme.colors_for(list(runs["run_id"]), colors)
    size_col = "latency_ms" if x == "size_mb" else "size_mb"
    sizes = _marker_sizes(d[size_col])
    d["_front"] = pareto_front(d["_y"], d["_x"])
    has_ci = f"{y}_lo" in d.columns and f"{y}_hi" in d.columns
    hovers, errs = [], []
    for _, row in d.iterrows():
        ci = has_ci and pd.notna(row[f"{y}_lo"]) and pd.notna(row[f"{y}_hi"])
        errs.append((float(row[f"{y}_hi"] - row["_y"]), float(row["_y"] - row[f"{y}_lo"])) if ci else (0.0, 0.0))
        hovers.append(f"<b>{row['label']}</b><br>{quality_name} {row['_y']:.3f}"
                      + (f" (95% CI {row[f'{y}_lo']:.3f}–{row[f'{y}_hi']:.3f})" if ci else "")
                      + _hover_numbers(row)
                      + ("<br><i>on the Pareto frontier</i>" if row["_front"] else "") + "<extra></extra>")
    front_flags = [bool(f) for f in d["_front"]]
    positive = d["_x"] > 0
    span = d["_x"].max() / d["_x"][positive].min() if positive.any() else 1
    log_x = bool(span > 30 and positive.all())
    front_ids = [rid for rid, f in zip(d.index, front_flags) if f]
    where = dict(zip(front_ids, label_positions([float(d.at[r, "_x"]) for r in front_ids], log_x)))
    if len(d) <= max_legend:  # one trace per run: a legend entry each
        traces = []
        for i, rid in enumerate(d.index):
            on_front, label = front_flags[i], str(d.at[rid, "label"])
            trace = {
                "type": "scatter", "x": [float(d.at[rid, "_x"])], "y": [float(d.at[rid, "_y"])],
                "mode": "markers+text" if on_front else "markers", "textposition": where.get(rid, "top center"),
                "textfont": {"size": 11, "color": "#333"}, "name": label, "legendgroup": rid, "cliponaxis": False,
                "marker": {"color": cmap[rid], "size": float(sizes[i]), "opacity": 0.9,
                           "line": {"color": "#222" if on_front else "#fff", "width": 1.5}},
                "hovertemplate": hovers[i],
            }
            if on_front:
                trace["text"] = [short_label(label)]
            if has_ci and errs[i] != (0.0, 0.0):
                trace["error_y"] = {"type": "data", "symmetric": False, "array": [errs[i][0]],
                                    "arrayminus": [errs[i][1]], "color": cmap[rid], "thickness": 1.2, "width": 3}
            traces.append(trace)
    else:  # many runs: one trace (100 traces cost seconds to build and draw); colours stay per run
        traces = [{
            "type": "scatter", "x": theme.plain_list(d["_x"]), "y": theme.plain_list(d["_y"]), "mode": "markers+text",
            "text": [short_label(lab) if f else "" for lab, f in zip(d["label"], front_flags)], "name": "Runs",
            "textposition": [where.get(r, "top center") for r in d.index], "cliponaxis": False,
            "textfont": {"size": 11, "color": "#333"}, "hovertemplate": hovers,
            "marker": {"color": [cmap[r] for r in d.index], "size": [float(v) for v in sizes], "opacity": 0.85,
                       "line": {"color": ["#222" if f else "#fff" for f in front_flags], "width": 1.5}},
            "error_y": {"type": "data", "symmetric": False, "array": [e[0] for e in errs],
                        "arrayminus": [e[1] for e in errs], "color": "#bbb", "thickness": 1, "width": 0},
        }]
    f = d[d["_front"]].sort_values("_x")
    traces.append({"type": "scatter", "x": theme.plain_list(f["_x"]), "y": theme.plain_list(f["_y"]), "mode": "lines",
                   "line": {"color": "#222", "dash": "dash", "width": 1.5, "shape": "hv"},
                   "name": "Pareto frontier", "hoverinfo": "skip", "legendgroup": "_frontier"})
    size_words = "latency" if size_col == "latency_ms" else "model size"
    note = f"Marker size: {size_words}. Frontier: runs no other run beats on both axes. Bars: 95% CI."
    if len(missing):
        names = ", ".join(map(str, missing["label"].head(6))) + (" …" if len(missing) > 6 else "")
        note += f"<br>Not shown (no {cost.name} recorded): {names}"
    xaxis = {"title": {"text": cost.axis + (" (log scale)" if log_x else "")}, "exponentformat": "none"}
    if log_x:
        xaxis["type"] = "log"
    elif d["_x"].nunique() == 1:  # one cost value: plotly would centre it on a -1..1 axis
        xaxis["range"] = [0, float(d["_x"].iloc[0]) * 1.6 or 1.0]
    layout = theme.layout(title, height=500, annotations=[theme.note(note, -0.16)], xaxis=xaxis,
                          yaxis={"title": {"text": quality.axis}},
                          margin={"l": 70, "r": 60, "t": 80, "b": 110 + 20 * bool(len(missing))})
    return theme.figure(traces, reference_lines.add(layout, *reference_lines.reference_layout(reference)))
