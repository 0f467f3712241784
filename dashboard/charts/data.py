"""Charts of the Data page: class balance per split and the token-length histogram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from . import theme

SPLIT_COLORS = {"train": theme.PALETTE[0], "validation": theme.PALETTE[1], "test": theme.PALETTE[2]}
_TOP_LEGEND = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"}


def class_balance(counts: Mapping[str, Mapping[str, int]], labels: Sequence[str] | None = None,
                  title: str = "Class balance per split") -> go.Figure:
    """Grouped bars: examples per label (x) for each split, share of the split in the hover."""
    splits = [s for s in ("train", "validation", "test") if s in counts] or list(counts)
    labels = list(labels or sorted({lab for c in counts.values() for lab in c}))
    traces = []
    for s in splits:
        total = max(sum(counts[s].values()), 1)
        y = [int(counts[s].get(lab, 0)) for lab in labels]
        traces.append({"type": "bar", "name": s, "x": labels, "y": y, "marker": {"color": SPLIT_COLORS.get(s)},
                       "customdata": [v / total for v in y],
                       "hovertemplate": "%{x}: %{y} examples (%{customdata:.1%} of " + s + ")<extra></extra>"})
    return theme.figure(traces, theme.layout(
        title, height=340, legend_title=None, barmode="group", legend=_TOP_LEGEND,
        margin={"l": 60, "r": 10, "t": 60, "b": 50},
        xaxis={"title": {"text": "Label"}}, yaxis={"title": {"text": "Examples (texts)"}}))


def _marker_line(x: float, text: str, dash: str, color: str, side: str) -> tuple[dict, dict]:
    """A vertical line over the whole plot at ``x`` and its label at the top."""
    shape = {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": "x", "yref": "paper",
             "line": {"dash": dash, "color": color, "width": 1.5}}
    label = {"text": text, "x": x, "y": 1, "xref": "x", "yref": "paper", "showarrow": False, "yanchor": "bottom",
             "xanchor": "left" if side == "right" else "right", "font": {"size": 11, "color": color}}
    return shape, label


def token_lengths(lengths: Sequence[int], tokenizer: str, max_length: int | None = None) -> go.Figure:
    """Histogram of token counts with the median, p95 and (optional) a chosen max_length marked."""
    arr = np.asarray(lengths, dtype=float)
    trace = {"type": "histogram", "x": arr.tolist(), "nbinsx": min(60, max(10, int(np.sqrt(len(arr))))),
             "marker": {"color": theme.PALETTE[0]}, "name": "texts",
             "hovertemplate": "%{x} tokens: %{y} texts<extra></extra>"}
    shapes, notes = [], []
    if len(arr):
        for q, dash in ((50, "dot"), (95, "dash")):
            v = float(np.ceil(np.percentile(arr, q)))
            for part, out in zip(_marker_line(v, f"p{q} = {v:.0f}", dash, "#444", "right"), (shapes, notes)):
                out.append(part)
    if max_length:
        cut = float((arr > max_length).mean()) if len(arr) else 0.0
        line = _marker_line(max_length, f"max_length {max_length} ({cut:.1%} cut)", "solid", theme.PALETTE[3], "left")
        shapes.append(line[0])
        notes.append(line[1])
    return theme.figure([trace], theme.layout(
        f"Token lengths ({len(arr):,} texts)", height=340, legend_title=None, showlegend=False, shapes=shapes,
        annotations=notes, margin={"l": 60, "r": 10, "t": 60, "b": 50},
        xaxis={"title": {"text": f"Tokens per text ({tokenizer} tokenizer, with special tokens)"}},
        yaxis={"title": {"text": "Texts"}}))
