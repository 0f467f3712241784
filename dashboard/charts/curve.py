"""How many labels do I need? Quality against the number of labelled training texts, one line per model.

Pure: the points of :func:`pipelines.curves.curve_points` (line, n_train, value, lo, hi) and
the LLM runs of :func:`pipelines.curves.llm_references` in, a figure out. The x axis is
logarithmic (50, 100, 250 … are equally spaced steps of effort), CIs are bands, and the
zero-/few-shot LLM runs — which need no labelled training texts at all — are horizontal
lines: where a curve crosses one is how many labels it takes to beat prompting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pipelines import columns

from . import reference as reference_lines
from . import theme

TITLE = "How many labels do I need? Quality vs labelled training texts"
LLM_COLORS = {"zero": "#B279A2", "few": "#9D755D"}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def learning_curve(points: pd.DataFrame, llm: pd.DataFrame | None = None, quality: str = "macro_f1",
                   reference: Mapping[str, Any] | None = None, title: str = TITLE) -> go.Figure:
    """One line per curve (markers at the measured sizes, the 95% CI as a band), LLM runs as dashed
    horizontal lines, the TF-IDF reference as a dotted one."""
    if points.empty:
        return theme.empty_figure(title, "No learning curve yet: python -m pipelines curve --kind tfidf")
    col = columns.REGISTRY.get(quality)
    qname = col.title_name if col else quality
    traces: list[dict] = []
    for i, (line, d) in enumerate(points.sort_values("n_train").groupby("line", sort=False)):
        color = theme.PALETTE[i % len(theme.PALETTE)]
        x = theme.plain_list(d["n_train"])
        ok = d["lo"].notna() & d["hi"].notna()
        if ok.any():  # the band: upper edge, then the lower edge back, filled
            band_x = theme.plain_list(d["n_train"][ok])
            traces.append({"type": "scatter", "x": band_x + band_x[::-1],
                           "y": theme.plain_list(d["hi"][ok]) + theme.plain_list(d["lo"][ok])[::-1],
                           "fill": "toself", "fillcolor": _rgba(color, 0.15), "line": {"width": 0},
                           "hoverinfo": "skip", "showlegend": False, "legendgroup": str(line),
                           "name": f"{line} (95% CI)"})
        traces.append({"type": "scatter", "x": x, "y": theme.plain_list(d["value"]), "mode": "lines+markers",
                       "name": str(line), "legendgroup": str(line), "line": {"color": color, "width": 2},
                       "marker": {"color": color, "size": 8},
                       "customdata": [[lo, hi] for lo, hi in zip(theme.plain_list(d["lo"]), theme.plain_list(d["hi"]))],
                       "hovertemplate": f"%{{x:,}} labelled texts<br>{qname} %{{y:.3f}} "
                                        "(95% CI %{customdata[0]:.3f}–%{customdata[1]:.3f})"
                                        "<extra>%{fullData.name}</extra>"})
    shapes: list[dict] = []
    notes: list[dict] = []
    for _, r in (llm if llm is not None else pd.DataFrame()).iterrows():
        s, n = reference_lines.hline(r["value"], str(r["label"]), r.get("lo"), r.get("hi"),
                                     color=LLM_COLORS.get(str(r.get("mode")), "#666"), dash="dash")
        shapes += s
        notes += n
    s, n = reference_lines.reference_layout(reference)
    shapes, notes = shapes + s, notes + n
    layout = theme.layout(title, height=480, legend_title="Curve",
                          xaxis={"title": {"text": "Labelled training texts (log scale)"}, "type": "log",
                                 "exponentformat": "none"},
                          yaxis={"title": {"text": col.axis if col else quality}},
                          annotations=[theme.note("Bands: 95% CI. Dashed lines: LLM runs (no training texts); "
                                                  "dotted: the TF-IDF reference on every training text.", -0.16)],
                          margin={"l": 70, "r": 30, "t": 80, "b": 110})
    return theme.figure(traces, reference_lines.add(layout, shapes, notes))
