"""Charts of single predictions (Playground, Errors): one model's probability per class."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from . import theme


def probability_bars(labels: Sequence[str], proba: Sequence[float], color: str, predicted: Sequence[str] | str,
                     gold: Sequence[str] | str | None = None, title: str = "") -> go.Figure:
    """Horizontal bars of one model's per-class probabilities; the predicted class solid, others faded,
    the gold class outlined. ``color``: the run's colour (:func:`dashboard.state.run_colors`)."""
    predicted = {predicted} if isinstance(predicted, str) else set(predicted)
    gold_set = set() if gold is None else ({gold} if isinstance(gold, str) else set(gold))
    p = [float(x) for x in proba]
    labels = list(labels)
    trace = {
        "type": "bar", "x": p, "y": labels, "orientation": "h", "text": [f"{v:.1%}" for v in p],
        "textposition": "auto", "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
        "marker": {"color": color, "opacity": [1.0 if lab in predicted else 0.35 for lab in labels],
                   "line": {"color": ["#222" if lab in gold_set else "rgba(0,0,0,0)" for lab in labels], "width": 2}},
    }
    return theme.figure([trace], theme.layout(
        title, height=max(150, (90 if title else 60) + 32 * len(labels)), legend_title=None, showlegend=False,
        margin={"l": 10, "r": 20, "t": 40 if title else 10, "b": 10},
        xaxis={"range": [0, 1.02], "tickvals": [0, 0.25, 0.5, 0.75, 1], "tickformat": ".0%",
               "title": {"text": "Probability (0–100%)"}},
        yaxis={"autorange": "reversed"}))
