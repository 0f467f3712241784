"""Plotly figures of the Data and Playground pages: data frame / dict in, figure out, no Streamlit.

(The comparison charts live in ``dashboard/charts.py``; run colours come from there so a
model has the same colour everywhere.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

SPLIT_COLOURS = {"train": "#4C78A8", "validation": "#F58518", "test": "#54A24B"}
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), height=height, font=FONT, template="plotly_white",
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=1.02, yanchor="bottom",
                                                                      x=1, xanchor="right"))
    return fig


def class_balance(counts: Mapping[str, Mapping[str, int]], labels: Sequence[str] | None = None,
                  title: str = "Class balance per split") -> go.Figure:
    """Grouped bars: examples per label (x) for each split, share of the split in the hover."""
    splits = [s for s in ("train", "validation", "test") if s in counts] or list(counts)
    labels = list(labels or sorted({lab for c in counts.values() for lab in c}))
    fig = go.Figure()
    for s in splits:
        total = max(sum(counts[s].values()), 1)
        y = [int(counts[s].get(lab, 0)) for lab in labels]
        fig.add_bar(name=s, x=labels, y=y, marker_color=SPLIT_COLOURS.get(s),
                    customdata=[v / total for v in y],
                    hovertemplate="%{x}: %{y} examples (%{customdata:.1%} of " + s + ")<extra></extra>")
    fig.update_layout(barmode="group", xaxis_title="label", yaxis_title="examples")
    return _layout(fig, title)


def token_lengths(lengths: Sequence[int], tokenizer: str, max_length: int | None = None) -> go.Figure:
    """Histogram of token counts with the median, p95 and (optional) a chosen max_length marked."""
    arr = np.asarray(lengths, dtype=float)
    fig = go.Figure(go.Histogram(x=arr, nbinsx=min(60, max(10, int(np.sqrt(len(arr))))), marker_color="#4C78A8",
                                 hovertemplate="%{x} tokens: %{y} texts<extra></extra>", name="texts"))
    if len(arr):
        for q, dash in ((50, "dot"), (95, "dash")):
            v = float(np.ceil(np.percentile(arr, q)))
            fig.add_vline(x=v, line_dash=dash, line_color="#444", annotation_text=f"p{q} = {v:.0f}",
                          annotation_position="top right")
    if max_length:
        cut = float((arr > max_length).mean()) if len(arr) else 0.0
        fig.add_vline(x=max_length, line_color="#E45756", annotation_text=f"max_length {max_length} "
                      f"({cut:.1%} cut)", annotation_position="top left")
    fig.update_layout(xaxis_title=f"tokens per text ({tokenizer} tokenizer, with special tokens)",
                      yaxis_title="texts", showlegend=False)
    return _layout(fig, f"Token lengths ({len(arr):,} texts)")


def probability_bars(labels: Sequence[str], proba: Sequence[float], colour: str, predicted: Sequence[str] | str,
                     gold: Sequence[str] | str | None = None, title: str = "") -> go.Figure:
    """Horizontal bars of one model's per-class probabilities; the predicted class solid, others faded,
    the gold class outlined."""
    predicted = {predicted} if isinstance(predicted, str) else set(predicted)
    gold_set = set() if gold is None else ({gold} if isinstance(gold, str) else set(gold))
    p = [float(x) for x in proba]
    fig = go.Figure(go.Bar(
        x=p, y=list(labels), orientation="h", text=[f"{v:.1%}" for v in p], textposition="auto",
        marker=dict(color=colour, opacity=[1.0 if lab in predicted else 0.35 for lab in labels],
                    line=dict(color=["#222" if lab in gold_set else "rgba(0,0,0,0)" for lab in labels], width=2)),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_xaxes(range=[0, 1.02], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%", title="probability")
    fig.update_yaxes(autorange="reversed")
    fig = _layout(fig, title, height=max(150, (90 if title else 60) + 32 * len(labels)))
    fig.update_layout(margin=dict(l=10, r=20, t=40 if title else 10, b=10), showlegend=False)
    return fig
